"""Nextcloud's name rules (FilenameValidator) and the 400 InvalidPath answer."""

from __future__ import annotations

import pytest

from tellakit.devserver.names import NameRules
from tests.devserver.helpers import dav, error_parts, files_url

DEFAULT = NameRules.create()
WINDOWS = NameRules.create(windows_compatible=True)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("   ", "Empty filename is not allowed"),
        ("..", "Dot files are not allowed"),
        ("a" * 251, "Filename is too long"),
        (".htaccess", '".htaccess" is a forbidden file or folder name.'),
        (".HTACCESS", '".HTACCESS" is a forbidden file or folder name.'),
        ("video.part", '".part" is a forbidden file type.'),
        ("x.filepart", '".filepart" is a forbidden file type.'),
        ("a\\b", '"\\" is not allowed inside a file or folder name.'),
        ("tab\there", "Filename contains at least one invalid character"),
    ],
)
def test_default_rules_reject_with_nextclouds_reason(name, reason):
    assert DEFAULT.check(name) == reason


def test_without_utf8mb4_four_byte_characters_are_refused():
    rules = NameRules.create(utf8mb4=False)
    assert rules.check("emoji 📷.jpg") == "Filename contains at least one invalid character"
    assert rules.check("ünïcödé ✓ €.txt") is None  # 2- and 3-byte UTF-8 still fit


@pytest.mark.parametrize(
    "name", ["report.pdf", "a" * 250, "ünïcödé ✓.txt", "trailing. ", "con.txt", "emoji 📷.jpg"]
)
def test_default_rules_allow(name):
    assert DEFAULT.check(name) is None


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("CON.txt", '"con" is a forbidden prefix for file or folder names.'),
        ("lpt¹", '"lpt¹" is a forbidden prefix for file or folder names.'),
        ("what?", '"?" is not allowed inside a file or folder name.'),
        ("a:b", '":" is not allowed inside a file or folder name.'),
        ("trailing ", 'Filenames must not end with " ".'),
        ("dot.", 'Filenames must not end with ".".'),
    ],
)
def test_windows_compatible_rules(name, reason):
    assert WINDOWS.check(name) == reason


def test_put_mkcol_move_with_bad_names_get_invalidpath(devserver):
    r = dav("PUT", files_url(devserver, "x.part"), data=b"x")
    assert r.status_code == 400
    exc, msg = error_parts(r)
    assert exc == "OCA\\DAV\\Connector\\Sabre\\Exception\\InvalidPath"
    assert msg == '".part" is a forbidden file type.'
    assert "<o:retry" in r.text and "<o:reason" in r.text
    assert dav("MKCOL", files_url(devserver, ".htaccess")).status_code == 400
    dav("PUT", files_url(devserver, "ok.txt"), data=b"x")
    moved = dav(
        "MOVE",
        files_url(devserver, "ok.txt"),
        headers={"Destination": files_url(devserver, "bad%5Cname")},
    )
    assert moved.status_code == 400
    assert (devserver.files_root("alice") / "ok.txt").exists()


def test_windows_compatible_server_rejects_and_advertises(tmp_path):
    import requests

    from tellakit.devserver import DevServer

    with DevServer(tmp_path, windows_compatible=True) as srv:
        r = dav("PUT", files_url(srv, "what%3F.txt"), data=b"x")
        assert r.status_code == 400
        caps = requests.get(
            f"{srv.url}/ocs/v2.php/cloud/capabilities?format=json",
            headers={"OCS-APIRequest": "true"},
            timeout=10,
        ).json()
        files = caps["ocs"]["data"]["capabilities"]["files"]
        assert "?" in files["forbidden_filename_characters"]
        assert "con" in files["forbidden_filename_basenames"]
