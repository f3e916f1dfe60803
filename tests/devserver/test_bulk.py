"""The development server's bulk upload (POST /remote.php/dav/bulk), against hand-built bodies.

The bodies are written here byte by byte, independently of tellakit's client (which
tests/nextcloud/test_bulk.py checks), as nextcloud/desktop's PutMultiFileJob sends them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from tests.devserver.helpers import AUTH, dav, error_parts, files_url, propfind

BOUNDARY = "boundary_0123456789abcdef"


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def bulk_url(srv) -> str:
    return f"{srv.url}/remote.php/dav/bulk"


def part(path: str, data: bytes, *, md5: str | None = None, mtime: int | None = None) -> bytes:
    head = [
        f"X-File-Path: {path}",
        f"X-File-MD5: {md5 or md5_hex(data)}",
        f"Content-Length: {len(data)}",
        "Content-Type: application/octet-stream",
    ]
    if mtime is not None:
        head.append(f"X-File-Mtime: {mtime}")
    return f"--{BOUNDARY}\r\n".encode() + "\r\n".join(head).encode() + b"\r\n\r\n" + data + b"\r\n"


def body(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def post(srv, data: bytes, content_type: str | None = None) -> requests.Response:
    ctype = content_type or f"multipart/related; boundary={BOUNDARY}"
    return dav("POST", bulk_url(srv), data=data, headers={"Content-Type": ctype})


def capabilities(srv) -> dict:
    r = requests.get(
        f"{srv.url}/ocs/v1.php/cloud/capabilities?format=json",
        auth=AUTH,
        headers={"OCS-APIRequest": "true"},
        timeout=30,
    )
    return r.json()["ocs"]["data"]["capabilities"]


def on_disk(srv, path: str) -> Path:
    return srv.files_root("alice") / path


def test_capability_advertised_and_switched_off(devserver):
    from tellakit.devserver import bulk

    assert capabilities(devserver)["dav"] == {"chunking": "1.0", "bulkupload": "1.0"}
    bulk.set_enabled(devserver.ctx, False)
    assert "bulkupload" not in capabilities(devserver)["dav"]
    r = post(devserver, body(part("/a.txt", b"hello")))
    assert r.status_code == 501, r.text
    assert error_parts(r)[0] == "Sabre\\DAV\\Exception\\NotImplemented"
    assert not on_disk(devserver, "a.txt").exists()
    bulk.set_enabled(devserver.ctx, True)
    assert post(devserver, body(part("/a.txt", b"hello"))).status_code == 200


def test_no_bulk_upload_on_a_server_older_than_23(tmp_path):
    from tellakit.devserver import DevServer

    with DevServer(tmp_path / "old", profile="nextcloud-old") as old:
        assert "bulkupload" not in capabilities(old)["dav"]
        assert post(old, body(part("/a.txt", b"hello"))).status_code == 501


def test_stores_every_part_and_answers_per_path_as_nextcloud(devserver):
    dav("MKCOL", files_url(devserver, "dir"))
    files = {"/dir/a.txt": b"alpha", "/dir/b.bin": os.urandom(300_000), "/c.txt": b""}
    r = post(devserver, body(*(part(p, d, mtime=1_600_000_000) for p, d in files.items())))
    assert r.status_code == 200, r.text
    assert "\\/dir\\/a.txt" in r.text  # PHP's json_encode escapes slashes
    answer = json.loads(r.content)
    assert set(answer) == set(files)
    for path, data in files.items():
        assert on_disk(devserver, path.lstrip("/")).read_bytes() == data
        assert os.stat(on_disk(devserver, path.lstrip("/"))).st_mtime == 1_600_000_000
        entry = answer[path]
        assert entry["error"] is False and entry["permissions"] == "RGDNVW"
        props = propfind(files_url(devserver, path.lstrip("/")))
        (only,) = props.values()
        assert only["{DAV:}getetag"] == f'"{entry["etag"]}"'
        assert only["{http://owncloud.org/ns}id"] == entry["fileid"]
    # the request log and a second request: an overwrite keeps the file id
    assert devserver.log.filter("POST", "/remote.php/dav/bulk")[-1].status == 200
    again = json.loads(post(devserver, body(part("/dir/a.txt", b"beta"))).content)
    assert again["/dir/a.txt"]["fileid"] == answer["/dir/a.txt"]["fileid"]
    assert again["/dir/a.txt"]["etag"] != answer["/dir/a.txt"]["etag"]
    assert on_disk(devserver, "dir/a.txt").read_bytes() == b"beta"


def test_a_refused_file_fails_alone(devserver):
    dav("MKCOL", files_url(devserver, "d"))
    r = post(
        devserver,
        body(
            part("/d/ok1.txt", b"1"),
            part("/d/notes.part", b"2"),  # a forbidden extension
            part("/missing/x.txt", b"3"),  # parent folder missing
            part("/d/bad-mtime.txt", b"4", mtime=5),  # MtimeSanitizer refuses it
            part("/d/ok2.txt", b"5"),
        ),
    )
    assert r.status_code == 200
    answer = json.loads(r.content)
    assert answer["/d/ok1.txt"]["error"] is False and answer["/d/ok2.txt"]["error"] is False
    refused = '".part" is a forbidden file type.'
    assert answer["/d/notes.part"] == {"error": True, "message": refused}
    assert answer["/missing/x.txt"] == {
        "error": True,
        "message": 'Could not create path "/alice/files/missing/x.txt"',
    }
    assert answer["/d/bad-mtime.txt"]["message"] == (
        "X-OC-MTime header must be a valid positive integer"
    )
    assert sorted(p.name for p in on_disk(devserver, "d").iterdir()) == ["ok1.txt", "ok2.txt"]


def test_md5_mismatch_stops_the_request_at_that_part(devserver):
    r = post(
        devserver,
        body(
            part("/one.txt", b"one"),
            part("/two.txt", b"two", md5=md5_hex(b"TWO")),
            part("/three.txt", b"three"),
        ),
    )
    assert r.status_code == 400
    assert list(json.loads(r.content)) == ["/one.txt"]  # written before the bad part
    assert on_disk(devserver, "one.txt").read_bytes() == b"one"
    assert not on_disk(devserver, "two.txt").exists()
    assert not on_disk(devserver, "three.txt").exists()
    assert list(devserver.ctx.tmp_dir.iterdir()) == []


def test_bad_first_part_answers_an_empty_php_array(devserver):
    r = post(devserver, body(part("/x.txt", b"x", md5="0" * 32)))
    assert (r.status_code, r.text) == (400, "[]")
    r = post(devserver, b"--other\r\n")  # no boundary where it should be
    assert (r.status_code, r.text) == (400, "[]")


def test_content_type_must_be_multipart_related(devserver):
    r = post(devserver, body(part("/x.txt", b"x")), content_type="multipart/related")
    assert r.status_code == 400
    assert error_parts(r)[1] == "Error while parsing boundary in Content-Type header."
    r = post(devserver, body(part("/x.txt", b"x")), content_type=f"text/plain; boundary={BOUNDARY}")
    assert error_parts(r)[1] == "Content-Type must be multipart/related"
    assert not on_disk(devserver, "x.txt").exists()


def test_quota_refuses_only_the_file_that_does_not_fit(devserver):
    devserver.set_quota("alice", 10_000)
    r = post(devserver, body(part("/small.txt", b"s" * 1000), part("/big.bin", b"b" * 20_000)))
    answer = json.loads(r.content)
    assert answer["/small.txt"]["error"] is False
    assert answer["/big.bin"] == {
        "error": True,
        "message": 'Could not create path "/alice/files/big.bin"',
    }
    assert not on_disk(devserver, "big.bin").exists()


def test_cut_mid_body_leaves_no_half_file(devserver):
    first, second = os.urandom(100_000), os.urandom(400_000)
    data = body(part("/first.bin", first), part("/second.bin", second), part("/third.txt", b"3"))
    devserver.faults.cut_after(300_000, method="POST", path="/bulk")
    with pytest.raises(requests.ConnectionError):
        post(devserver, data)
    assert on_disk(devserver, "first.bin").read_bytes() == first  # completed before the cut
    assert not on_disk(devserver, "second.bin").exists()
    assert not on_disk(devserver, "third.txt").exists()
    assert list(devserver.ctx.tmp_dir.iterdir()) == []
    (record,) = devserver.log.filter("POST", "/remote.php/dav/bulk")
    assert record.status == 0 and record.bytes_in == 300_000


def test_fault_injector_answers_for_bulk(devserver):
    devserver.faults.respond(503, method="POST", path="/remote.php/dav/bulk")
    r = post(devserver, body(part("/x.txt", b"x")))
    assert r.status_code == 503
    assert not on_disk(devserver, "x.txt").exists()
    assert post(devserver, body(part("/x.txt", b"x"))).status_code == 200


def test_only_post_and_only_with_credentials(devserver):
    assert dav("GET", bulk_url(devserver)).status_code == 404
    r = requests.post(bulk_url(devserver), data=body(part("/x.txt", b"x")), timeout=30)
    assert r.status_code == 401


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_nextcloudcmd_uploads_small_files_through_bulk(devserver, tmp_path):
    """nextcloudcmd (Debian's 3.7) sends new small files in bulk requests when advertised."""
    from tests.devserver.test_fidelity import nextcloudcmd_sync, tree

    exe = shutil.which("nextcloudcmd")
    if exe is None:
        pytest.skip("nextcloudcmd is not installed (Debian package; CI installs it)")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    src, home = tmp_path / "src", tmp_path / "home"
    src.mkdir()
    home.mkdir()
    (src / "sub").mkdir()
    for i in range(60):
        (src / ("sub" if i % 2 else "") / f"note-{i:02d}.txt").write_bytes(os.urandom(100 + i * 37))
    dav("MKCOL", files_url(devserver, "sync"))
    nextcloudcmd_sync(exe, devserver, src, home)
    posts = devserver.log.filter("POST", "/remote.php/dav/bulk", status=200)
    assert posts, f"no bulk request from nextcloudcmd {re.findall(r'[0-9.]+', version)[:1]}"
    puts = [r for r in devserver.log.filter("PUT", "/remote.php/dav/files/") if "note-" in r.path]
    assert len(puts) < 60  # the small files went in bulk, not one PUT each
    assert tree(on_disk(devserver, "sync")) == tree(src)
