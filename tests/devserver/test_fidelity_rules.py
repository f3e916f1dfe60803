"""Behaviours faithful to real Nextcloud in every profile: strict X-Hash, stored checksums as
sent, re-sent chunks, PATCH X-Recalculate-Hash, the byte-flip fault, two-factor accounts."""

from __future__ import annotations

import hashlib
import os

import pytest
import requests

from tests.devserver.helpers import OC, dav, error_parts, files_url, propfind

MIB = 1024 * 1024


def up(srv, rest: str) -> str:
    return f"{srv.url}/remote.php/dav/uploads/alice/{rest}"


def x_hash_headers(r: requests.Response) -> dict[str, str]:
    return {k: v for k, v in r.headers.items() if k.lower().startswith("x-hash-")}


@pytest.mark.parametrize(
    ("value", "answered"),
    [
        ("sha256", {"X-Hash-SHA256"}),
        ("md5", {"X-Hash-MD5"}),
        ("sha1", {"X-Hash-SHA1"}),
        ("all", {"X-Hash-MD5", "X-Hash-SHA1", "X-Hash-SHA256"}),
        ("SHA256", set()),  # File::put compares exactly, lower case
        ("sha256,md5", set()),  # one value, not a list
        ("sha512", set()),
        ("", set()),
    ],
)
def test_x_hash_values_are_parsed_as_file_put_does(devserver, value, answered):
    body = os.urandom(5000)
    r = dav("PUT", files_url(devserver, "h.bin"), data=body, headers={"X-Hash": value})
    assert r.status_code == 201
    assert set(x_hash_headers(r)) == answered
    if answered:
        assert r.headers.get("X-Hash-SHA256", hashlib.sha256(body).hexdigest()) == (
            hashlib.sha256(body).hexdigest()
        )


def test_x_hash_is_ignored_on_head_and_get(devserver):
    dav("PUT", files_url(devserver, "g.bin"), data=b"content")
    for method in ("HEAD", "GET"):
        r = dav(method, files_url(devserver, "g.bin"), headers={"X-Hash": "sha256"})
        assert r.status_code == 200
        assert x_hash_headers(r) == {}


def test_stored_checksum_is_only_what_the_client_sent(devserver):
    url = files_url(devserver, "c.bin")
    claim = "SHA256:" + "0" * 64  # false, and stored all the same: nothing checks it
    dav("PUT", url, data=b"real content", headers={"OC-Checksum": claim})
    props = propfind(url)["/remote.php/dav/files/alice/c.bin"]
    assert [c.text for c in props[f"{OC}checksums"]] == [claim]
    dav("PUT", url, data=b"new content")  # a PUT without the header clears it
    assert f"{OC}checksums" not in propfind(url)["/remote.php/dav/files/alice/c.bin"]


def test_resent_chunk_answers_204_in_v1_and_201_in_v2(devserver):
    assert dav("MKCOL", up(devserver, "v1")).status_code == 201
    assert dav("PUT", up(devserver, "v1/00001"), data=b"a").status_code == 201
    assert dav("PUT", up(devserver, "v1/00001"), data=b"a").status_code == 204
    dest = {"Destination": files_url(devserver, "v2.bin")}
    assert dav("MKCOL", up(devserver, "v2"), headers=dest).status_code == 201
    assert dav("PUT", up(devserver, "v2/1"), data=b"a", headers=dest).status_code == 201
    assert dav("PUT", up(devserver, "v2/1"), data=b"a", headers=dest).status_code == 201


def test_patch_recalculates_the_hash_of_the_stored_bytes(devserver):
    url = files_url(devserver, "r.bin")
    body = os.urandom(3 * MIB + 5)
    dav("PUT", url, data=body, headers={"OC-Checksum": "SHA256:" + "f" * 64})
    # The bytes on the server change behind the client's back: the answer follows them.
    disk = devserver.files_root("alice") / "r.bin"
    stored = bytearray(disk.read_bytes())
    stored[1000] ^= 0xFF
    disk.write_bytes(bytes(stored))
    r = dav("PATCH", url, headers={"X-Recalculate-Hash": "SHA256"})
    assert r.status_code == 204
    expected = "SHA256:" + hashlib.sha256(bytes(stored)).hexdigest()
    assert r.headers["OC-Checksum"] == expected
    assert hashlib.sha256(body).hexdigest() not in r.headers["OC-Checksum"]
    # ... and it is stored as the file's checksum (ChecksumUpdatePlugin setChecksum)
    props = propfind(url)["/remote.php/dav/files/alice/r.bin"]
    assert [c.text for c in props[f"{OC}checksums"]] == [expected]
    md5 = dav("PATCH", url, headers={"X-Recalculate-Hash": "md5"})
    md5_hex = hashlib.md5(bytes(stored), usedforsecurity=False).hexdigest()
    assert md5.headers["OC-Checksum"] == "MD5:" + md5_hex


def test_patch_answers_of_a_nextcloud_30(devserver):
    dav("PUT", files_url(devserver, "f.txt"), data=b"x")
    dav("MKCOL", files_url(devserver, "folder"))
    unknown = dav("PATCH", files_url(devserver, "f.txt"), headers={"X-Recalculate-Hash": "nope"})
    assert unknown.status_code == 500  # PHP's hash_file throws on an unknown algorithm
    assert dav("PATCH", files_url(devserver, "f.txt")).status_code == 500  # no header: ''
    folder = dav("PATCH", files_url(devserver, "folder"), headers={"X-Recalculate-Hash": "md5"})
    assert folder.status_code == 501  # no plugin handles PATCH on a folder
    missing = dav("PATCH", files_url(devserver, "nope"), headers={"X-Recalculate-Hash": "md5"})
    assert missing.status_code == 404


def test_flip_byte_corrupts_one_byte_of_the_matching_body(devserver):
    body = os.urandom(2 * MIB)
    devserver.faults.flip_byte(MIB + 3, method="PUT", path=r"/flip\.bin$")
    short = dav("PUT", files_url(devserver, "flip.bin"), data=b"short")  # not reached
    assert short.status_code == 201
    r = dav("PUT", files_url(devserver, "flip.bin"), data=body, headers={"X-Hash": "sha256"})
    assert r.status_code == 204
    stored = (devserver.files_root("alice") / "flip.bin").read_bytes()
    assert len(stored) == len(body)
    assert [i for i in range(len(body)) if stored[i] != body[i]] == [MIB + 3]
    # The server hashes what it received: its answer gives the corruption away.
    assert r.headers["X-Hash-SHA256"] == hashlib.sha256(stored).hexdigest()
    assert r.headers["X-Hash-SHA256"] != hashlib.sha256(body).hexdigest()
    # times=1: used up
    dav("PUT", files_url(devserver, "flip.bin"), data=body)
    assert (devserver.files_root("alice") / "flip.bin").read_bytes() == body


def test_flip_byte_selects_the_nth_chunk_and_works_under_a_bandwidth_cap(devserver):
    dav("MKCOL", up(devserver, "fl"))
    chunks = [os.urandom(300_000) for _ in range(3)]
    devserver.faults.flip_byte(7, method="PUT", path=r"/uploads/alice/fl/", nth=2, xor=0x80)
    devserver.faults.bandwidth(4 * MIB)
    for i, chunk in enumerate(chunks, 1):
        assert dav("PUT", up(devserver, f"fl/{i:05d}"), data=chunk).status_code == 201
    devserver.faults.bandwidth(None)
    folder = devserver.files_root("alice").parent / "uploads" / "fl"
    assert (folder / "00001").read_bytes() == chunks[0]
    assert (folder / "00003").read_bytes() == chunks[2]
    second = (folder / "00002").read_bytes()
    assert second[7] == chunks[1][7] ^ 0x80 and second[8:] == chunks[1][8:]


def test_flip_fault_from_a_cli_spec(devserver):
    devserver.faults.add_spec("PUT:/spec.bin:flip:2")
    dav("PUT", files_url(devserver, "spec.bin"), data=b"abcd")
    assert (devserver.files_root("alice") / "spec.bin").read_bytes() == b"ab" + bytes(
        [ord("c") ^ 1]
    ) + b"d"


def test_two_factor_account_main_password_gets_password_login_forbidden(devserver):
    devserver.add_user("tf", "main-pw", two_factor=True)
    for password in ("main-pw", "wrong"):  # refused before the password is even checked
        r = dav("PROPFIND", files_url(devserver, "", uid="tf"), auth=("tf", password))
        assert r.status_code == 401
        exc, _msg = error_parts(r)
        assert exc == "OCA\\DAV\\Connector\\Sabre\\Exception\\PasswordLoginForbidden"
        assert "<o:hint" in r.text and "password login forbidden" in r.text
    app_pw = devserver.create_app_password("tf")
    ok = dav("PROPFIND", files_url(devserver, "", uid="tf"), auth=("tf", app_pw))
    assert ok.status_code == 207
    plain = dav("PROPFIND", files_url(devserver, ""), auth=("alice", "wrong"))
    assert plain.status_code == 401 and "NotAuthenticated" in error_parts(plain)[0]


def test_login_flow_of_a_two_factor_account_asks_for_the_totp_code(devserver):
    devserver.add_user("tf", "main-pw", login="tf@example.org", two_factor=True)
    flow = requests.post(f"{devserver.url}/index.php/login/v2", timeout=10).json()
    login = flow["login"]
    page = requests.post(login, data={"user": "tf@example.org", "password": "main-pw"}, timeout=10)
    assert page.status_code == 200 and "authentication code" in page.text.lower()
    poll = {"token": flow["poll"]["token"]}
    assert requests.post(flow["poll"]["endpoint"], data=poll, timeout=10).status_code == 404
    wrong = requests.post(login, data={"challenge": "000000"}, timeout=10)
    if devserver.totp_code("tf") != "000000":
        assert wrong.status_code == 403 and "Invalid authentication code" in wrong.text
    done = requests.post(login, data={"challenge": devserver.totp_code("tf")}, timeout=10)
    assert done.status_code == 200 and "connected" in done.text
    creds = requests.post(flow["poll"]["endpoint"], data=poll, timeout=10).json()
    assert creds["loginName"] == "tf@example.org"
    r = dav("PROPFIND", files_url(devserver, "", uid="tf"), auth=("tf", creds["appPassword"]))
    assert r.status_code == 207


def test_totp_matches_rfc_6238_test_vector():
    import base64

    from tellakit.devserver.users import totp

    secret = base64.b32encode(b"12345678901234567890").decode()
    assert totp(secret, at=59) == "287082"  # RFC 6238 appendix B, SHA-1, 8 digits 94287082
    assert totp(secret, at=1111111109) == "081804"
