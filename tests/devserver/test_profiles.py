"""Development server profiles of real servers: object store, old, behind a proxy, MySQL utf8."""

from __future__ import annotations

import hashlib
import os

import pytest
import requests

from tests.devserver.helpers import OC, dav, error_parts, files_url, propfind

MIB = 1024 * 1024
PART = 5 * MIB  # v2's smallest chunk but the last


@pytest.fixture
def server(request, tmp_path_factory):
    """A DevServer with the profile named by the test's parameter."""
    from tellakit.devserver import DevServer

    with DevServer(tmp_path_factory.mktemp("profile"), profile=request.param) as srv:
        yield srv


def up(srv, rest: str) -> str:
    return f"{srv.url}/remote.php/dav/uploads/alice/{rest}"


def v2_upload(srv, transfer: str, dest: str, parts: list[bytes]) -> dict[str, str]:
    headers = {"Destination": files_url(srv, dest)}
    assert dav("MKCOL", up(srv, transfer), headers=headers).status_code == 201
    for i, part in enumerate(parts, 1):
        r = dav("PUT", up(srv, f"{transfer}/{i:05d}"), data=part, headers=headers)
        assert r.status_code == 201, r.text
    return headers


def listing(srv, transfer: str) -> dict[str, str | None]:
    """name -> getcontentlength of an upload folder's entries (the folder itself left out)."""
    base = f"/remote.php/dav/uploads/alice/{transfer}/"
    out = {}
    for href, props in propfind(up(srv, transfer), depth="1").items():
        if href != base:
            out[href[len(base) :]] = props.get("{DAV:}getcontentlength")
    return out


def test_unknown_profile_names_the_choices(tmp_path):
    from tellakit.devserver import DevServer

    with pytest.raises(ValueError, match="nextcloud-object-store"):
        DevServer(tmp_path, profile="nextcloud-99")


@pytest.mark.parametrize("server", ["nextcloud-object-store"], indirect=True)
def test_object_store_v2_move_has_no_hash_no_checksum_no_length_check(server):
    parts = [os.urandom(PART), os.urandom(1000)]
    headers = v2_upload(server, "os1", "big.bin", parts)
    # parts listed by part number beside a .target staging entry (UploadFolder::getChildren)
    names = listing(server, "os1")
    assert set(names) == {"1", "2", ".target", ".file"}
    r = dav(
        "MOVE",
        up(server, "os1/.file"),
        headers={
            **headers,
            "X-Hash": "sha256",
            "OC-Checksum": "SHA256:" + "0" * 64,
            "OC-Total-Length": "12345",  # wrong, and not compared
            "X-OC-MTime": "1500000000",
        },
    )
    assert r.status_code == 201, r.text
    assert not [h for h in r.headers if h.lower().startswith("x-hash")]
    assert r.headers["X-OC-MTime"] == "accepted" and r.headers["OC-FileId"]
    stored = (server.files_root("alice") / "big.bin").read_bytes()
    assert stored == b"".join(parts)
    props = propfind(files_url(server, "big.bin"))["/remote.php/dav/files/alice/big.bin"]
    assert f"{OC}checksums" not in props
    # The server can still compute a digest on demand (ChecksumUpdatePlugin, NC 24+).
    patch = dav("PATCH", files_url(server, "big.bin"), headers={"X-Recalculate-Hash": "sha256"})
    assert patch.headers["OC-Checksum"] == "SHA256:" + hashlib.sha256(stored).hexdigest()


@pytest.mark.parametrize("server", ["nextcloud-object-store"], indirect=True)
def test_object_store_resent_part_is_201_and_lost_metadata_is_412(server):
    headers = v2_upload(server, "os2", "x.bin", [os.urandom(PART)])
    assert dav("PUT", up(server, "os2/00001"), data=b"a" * 10, headers=headers).status_code == 201
    server.drop_upload_metadata("alice", "os2")
    r = dav("PUT", up(server, "os2/00002"), data=b"b" * 10, headers=headers)
    assert r.status_code == 412
    assert error_parts(r)[1].startswith("Missing metadata for chunked upload")
    assert set(listing(server, "os2")) == {".target", ".file"}  # no parts without metadata
    move = dav("MOVE", up(server, "os2/.file"), headers={**headers, "OC-Total-Length": "10"})
    assert move.status_code == 400
    assert not (server.files_root("alice") / "x.bin").exists()


def test_dropping_metadata_needs_the_object_store_profile(devserver):
    with pytest.raises(ValueError, match="nextcloud-object-store"):
        devserver.drop_upload_metadata("alice", "anything")


@pytest.mark.parametrize("server", ["nextcloud", "mysql-utf8", "behind-proxy"], indirect=True)
def test_local_disk_v2_move_hashes_stores_and_checks_length(server):
    parts = [os.urandom(PART), os.urandom(10)]
    headers = v2_upload(server, "l1", "l.bin", parts)
    bad = dav("MOVE", up(server, "l1/.file"), headers={**headers, "OC-Total-Length": "7"})
    assert bad.status_code == 400
    claim = "SHA256:" + "1" * 64
    r = dav(
        "MOVE",
        up(server, "l1/.file"),
        headers={**headers, "X-Hash": "sha256", "OC-Checksum": claim},
    )
    assert r.status_code == 201
    assert r.headers["X-Hash-SHA256"] == hashlib.sha256(b"".join(parts)).hexdigest()
    props = propfind(files_url(server, "l.bin"))["/remote.php/dav/files/alice/l.bin"]
    assert [c.text for c in props[f"{OC}checksums"]] == [claim]


@pytest.mark.parametrize("server", ["nextcloud-old"], indirect=True)
def test_old_server_has_no_x_hash_no_patch_no_chunking_v2(server):
    r = dav("PUT", files_url(server, "a.bin"), data=b"abc", headers={"X-Hash": "all"})
    assert r.status_code == 201
    assert not [h for h in r.headers if h.lower().startswith("x-hash")]
    patch = dav("PATCH", files_url(server, "a.bin"), headers={"X-Recalculate-Hash": "sha256"})
    assert patch.status_code == 501
    # MKCOL's Destination is ignored: v1 rules (any chunk name, no minimum size), v1 answers
    headers = {"Destination": files_url(server, "old.bin")}
    assert dav("MKCOL", up(server, "o1"), headers=headers).status_code == 201
    assert dav("PUT", up(server, "o1/a-first"), data=b"x" * 10).status_code == 201
    assert dav("PUT", up(server, "o1/b-second"), data=b"y" * 10).status_code == 201
    assert dav("PUT", up(server, "o1/b-second"), data=b"y" * 10).status_code == 204
    move = dav("MOVE", up(server, "o1/.file"), headers={**headers, "X-Hash": "sha256"})
    assert move.status_code == 201
    assert not [h for h in move.headers if h.lower().startswith("x-hash")]
    assert (server.files_root("alice") / "old.bin").read_bytes() == b"x" * 10 + b"y" * 10
    status = requests.get(f"{server.url}/status.php", timeout=10).json()
    assert status["versionstring"] == "18.0.14"
    caps = requests.get(
        f"{server.url}/ocs/v1.php/cloud/capabilities?format=json",
        auth=("alice", "secret"),
        headers={"OCS-APIRequest": "true"},
        timeout=10,
    ).json()["ocs"]["data"]
    assert caps["version"]["major"] == 18
    assert "chunked_upload" not in caps["capabilities"]["files"]
    assert "forbidden_filename_characters" not in caps["capabilities"]["files"]


@pytest.mark.parametrize("server", ["mysql-utf8"], indirect=True)
def test_mysql_utf8_refuses_four_byte_names(server):
    r = dav("PUT", files_url(server, "photo %F0%9F%93%B7.jpg"), data=b"x")
    assert r.status_code == 400
    exc, message = error_parts(r)
    assert exc.endswith("InvalidPath")
    assert message == "Filename contains at least one invalid character"
    assert dav("MKCOL", files_url(server, "%F0%9F%98%80")).status_code == 400
    assert dav("PUT", files_url(server, "caf%C3%A9 %E2%9C%93.txt"), data=b"x").status_code == 201
    headers = v2_upload(server, "m1", "fine.bin", [b"z" * 10])
    emoji_dest = {**headers, "Destination": files_url(server, "%F0%9F%8E%A5.bin")}
    assert dav("MOVE", up(server, "m1/.file"), headers=emoji_dest).status_code == 400


def test_behind_proxy_login_flow_hands_out_http_urls_even_over_https(tmp_path):
    from tellakit.devserver import DevServer
    from tests.nextcloud.servers import self_signed_cert

    cert, key = self_signed_cert(tmp_path)
    for profile, scheme in (("nextcloud", "https"), ("behind-proxy", "http")):
        with DevServer(tmp_path / profile, profile=profile, tls=(cert, key)) as srv:
            assert srv.url.startswith("https://")
            start = requests.post(f"{srv.url}/index.php/login/v2", verify=cert, timeout=10)
            flow = start.json()
            assert flow["login"].startswith(f"{scheme}://127.0.0.1:{srv.port}/")
            assert flow["poll"]["endpoint"].startswith(f"{scheme}://127.0.0.1:{srv.port}/")
            srv.approve_login_flow("alice")
            https_poll = flow["poll"]["endpoint"].replace("http://", "https://", 1)
            creds = requests.post(
                https_poll, data={"token": flow["poll"]["token"]}, verify=cert, timeout=10
            ).json()
            assert creds["server"] == f"{scheme}://127.0.0.1:{srv.port}"
