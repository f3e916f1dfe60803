"""Chunked upload below /remote.php/dav/uploads/{uid}/ (v1 semantics and v2 rules)."""

from __future__ import annotations

import hashlib
import os
import time

import pytest
from defusedxml import ElementTree

from tests.devserver.helpers import dav, error_parts, files_url

MIB = 1024 * 1024


def up(srv, path=""):
    return f"{srv.url}/remote.php/dav/uploads/alice/{path}"


def listing(srv, transfer):
    r = dav("PROPFIND", up(srv, transfer), headers={"Depth": "1"})
    assert r.status_code == 207, r.text
    out = {}
    for resp in ElementTree.fromstring(r.content).iter("{DAV:}response"):
        href = resp.find("{DAV:}href").text
        length = resp.find(".//{DAV:}getcontentlength")
        out[href.rsplit("/", 2)[-1] if not href.endswith("/") else ""] = (
            None if length is None else int(length.text)
        )
    return out


def test_v1_upload_assembles_in_natural_order_and_removes_the_folder(devserver):
    assert dav("MKCOL", up(devserver, "t1")).status_code == 201
    # Natural order: "2" before "10" (strnatcmp), whatever the upload order.
    for name, data in (("10", b"C"), ("2", b"B"), ("1", b"A")):
        assert dav("PUT", up(devserver, f"t1/{name}"), data=data).status_code == 201
    assert dav("PUT", up(devserver, "t1/1"), data=b"A").status_code == 204  # re-sent chunk
    seen = listing(devserver, "t1")
    assert seen == {"": None, "1": 1, "2": 1, "10": 1, ".file": 3}
    r = dav(
        "MOVE",
        up(devserver, "t1/.file"),
        headers={
            "Destination": files_url(devserver, "joined.txt"),
            "OC-Total-Length": "3",
            "X-OC-MTime": "1600000000",
            "OC-Checksum": "SHA1:feed",
            "X-Hash": "sha256",
        },
    )
    assert r.status_code == 201, r.text
    assert r.headers["X-OC-MTime"] == "accepted"
    assert r.headers["OC-FileId"] and r.headers["ETag"] == r.headers["OC-ETag"]
    assert "X-Hash-SHA256" in r.headers
    target = devserver.files_root("alice") / "joined.txt"
    assert target.read_bytes() == b"ABC"
    assert target.stat().st_mtime == 1600000000
    assert dav("PROPFIND", up(devserver, "t1"), headers={"Depth": "0"}).status_code == 404


def test_assembly_over_existing_file_keeps_its_fileid(devserver):
    first = dav("PUT", files_url(devserver, "same.bin"), data=b"old")
    dav("MKCOL", up(devserver, "t2"))
    dav("PUT", up(devserver, "t2/00001"), data=b"new content")
    r = dav(
        "MOVE", up(devserver, "t2/.file"), headers={"Destination": files_url(devserver, "same.bin")}
    )
    assert r.status_code == 204
    assert r.headers["OC-FileId"] == first.headers["OC-FileId"]
    assert (devserver.files_root("alice") / "same.bin").read_bytes() == b"new content"


def test_total_length_mismatch_is_400(devserver):
    dav("MKCOL", up(devserver, "t3"))
    dav("PUT", up(devserver, "t3/1"), data=b"12345")
    r = dav(
        "MOVE",
        up(devserver, "t3/.file"),
        headers={"Destination": files_url(devserver, "x.bin"), "OC-Total-Length": "9"},
    )
    assert r.status_code == 400
    assert error_parts(r)[1] == "Chunks on server do not sum up to 9 but to 5 bytes"
    assert not (devserver.files_root("alice") / "x.bin").exists()


def test_move_errors_directory_missing_parent_overwrite_false(devserver):
    dav("MKCOL", files_url(devserver, "adir"))
    dav("PUT", files_url(devserver, "exists.txt"), data=b"e")
    dav("MKCOL", up(devserver, "t4"))
    dav("PUT", up(devserver, "t4/1"), data=b"z")
    to_dir = dav(
        "MOVE", up(devserver, "t4/.file"), headers={"Destination": files_url(devserver, "adir")}
    )
    assert to_dir.status_code == 400
    assert error_parts(to_dir)[1] == "The given destination adir is a directory."
    no_parent = dav(
        "MOVE",
        up(devserver, "t4/.file"),
        headers={"Destination": files_url(devserver, "nowhere/f")},
    )
    assert no_parent.status_code == 409
    no_over = dav(
        "MOVE",
        up(devserver, "t4/.file"),
        headers={"Destination": files_url(devserver, "exists.txt"), "Overwrite": "F"},
    )
    assert no_over.status_code == 412
    bad_name = dav(
        "MOVE", up(devserver, "t4/.file"), headers={"Destination": files_url(devserver, "a.part")}
    )
    assert bad_name.status_code == 400
    assert "InvalidPath" in error_parts(bad_name)[0]
    assert dav("MOVE", up(devserver, "t4/.file")).status_code == 400  # no Destination


def test_upload_folder_statuses(devserver):
    assert dav("MKCOL", up(devserver, "t5")).status_code == 201
    assert dav("MKCOL", up(devserver, "t5")).status_code == 405
    assert dav("MKCOL", up(devserver, "t5/sub")).status_code == 403
    assert dav("PUT", up(devserver, "direct.bin"), data=b"x").status_code == 403
    assert dav("PUT", up(devserver, "missing/1"), data=b"x").status_code == 409
    dav("PUT", up(devserver, "t5/1"), data=b"x")
    assert dav("GET", up(devserver, "t5/1")).status_code == 405
    assert dav("DELETE", up(devserver, "t5/1")).status_code == 204
    assert dav("DELETE", up(devserver, "t5")).status_code == 204
    assert dav("DELETE", up(devserver, "t5")).status_code == 404
    devserver.add_user("bob", "pw")
    assert dav("MKCOL", f"{devserver.url}/remote.php/dav/uploads/bob/x").status_code == 403


def test_v2_rules_when_mkcol_had_destination(devserver):
    dest = {"Destination": files_url(devserver, "v2.bin")}
    assert dav("MKCOL", up(devserver, "v2"), headers=dest).status_code == 201
    bad = dav("PUT", up(devserver, "v2/abc"), data=b"x", headers=dest)
    assert bad.status_code == 400
    assert error_parts(bad)[1] == "Invalid chunk name, must be numeric between 1 and 10000"
    assert dav("PUT", up(devserver, "v2/10001"), data=b"x", headers=dest).status_code == 400
    assert dav("PUT", up(devserver, "v2/1"), data=b"x").status_code == 400  # no Destination
    # A small chunk that is not the last one is refused at assembly.
    dav("PUT", up(devserver, "v2/1"), data=b"a" * 10, headers=dest)
    dav("PUT", up(devserver, "v2/2"), data=b"b" * 10, headers=dest)
    small = dav("MOVE", up(devserver, "v2/.file"), headers=dest)
    assert small.status_code == 400
    # 5 MiB chunks and a short last one assemble.
    part1 = b"1" * (5 * MIB)
    dav("PUT", up(devserver, "v2/1"), data=part1, headers=dest)
    total = len(part1) + 10
    r = dav("MOVE", up(devserver, "v2/.file"), headers={**dest, "OC-Total-Length": str(total)})
    assert r.status_code == 201, r.text
    assert (devserver.files_root("alice") / "v2.bin").read_bytes() == part1 + b"b" * 10


def test_quota_early_check_on_chunk_and_at_assembly(devserver):
    devserver.set_quota("alice", 100)
    dest = {"Destination": files_url(devserver, "q.bin")}
    dav("MKCOL", up(devserver, "q"))
    early = dav("PUT", up(devserver, "q/1"), data=b"x", headers={**dest, "OC-Total-Length": "500"})
    assert early.status_code == 507
    dav("PUT", up(devserver, "q/1"), data=b"x" * 80)
    dav("PUT", up(devserver, "q/2"), data=b"x" * 80)
    late = dav("MOVE", up(devserver, "q/.file"), headers=dest)
    assert late.status_code == 507
    assert error_parts(late)[1] == "Insufficient space in q.bin, 160 required, 100 available"


def test_idle_upload_folders_expire(tmp_path):
    from tellakit.devserver import DevServer

    with DevServer(tmp_path, chunk_expiry_seconds=0.5) as srv:
        dav("MKCOL", up(srv, "old"))
        dav("PUT", up(srv, "old/1"), data=b"x")
        assert dav("PROPFIND", up(srv, "old"), headers={"Depth": "1"}).status_code == 207
        time.sleep(1.2)
        assert dav("PROPFIND", up(srv, "old"), headers={"Depth": "1"}).status_code == 404
        assert not (tmp_path / "alice" / "uploads" / "old").exists()


def test_propfind_of_uploads_home_chunk_and_virtual_file(devserver):
    dav("MKCOL", up(devserver, "p1"))
    dav("MKCOL", up(devserver, "p2"))
    dav("PUT", up(devserver, "p1/00001"), data=b"abc")
    dav("PUT", up(devserver, "p1/00002"), data=b"de")
    home = dav("PROPFIND", up(devserver), headers={"Depth": "1"})
    assert home.status_code == 207
    assert "/remote.php/dav/uploads/alice/p1/" in home.text
    assert "/remote.php/dav/uploads/alice/p2/" in home.text
    chunk = dav("PROPFIND", up(devserver, "p1/00002"), headers={"Depth": "0"})
    assert chunk.status_code == 207 and "<d:getcontentlength>2</d:getcontentlength>" in chunk.text
    virtual = dav("PROPFIND", up(devserver, "p1/.file"), headers={"Depth": "0"})
    assert "<d:getcontentlength>5</d:getcontentlength>" in virtual.text
    only_folder = dav("PROPFIND", up(devserver, "p1"), headers={"Depth": "0"})
    assert "00001" not in only_folder.text
    assert dav("PROPFIND", up(devserver, "p1/00009"), headers={"Depth": "0"}).status_code == 404
    assert dav("DELETE", up(devserver, "p1/00009")).status_code == 404
    assert (
        dav(
            "MOVE", up(devserver, "p1/00001"), headers={"Destination": files_url(devserver, "x")}
        ).status_code
        == 403
    )
    assert dav("GET", up(devserver, "p1/.file")).status_code == 405


def _abandon_chunk_put(
    srv, path: str, declared: int, send: int, *, reset: bool, prefix: str = "uploads"
) -> None:
    """Start a chunk PUT, send up to ``send`` of ``declared`` body bytes, then hang up.

    ``prefix="files"`` makes it a plain file PUT below alice's files instead.
    """
    import base64
    import socket
    import struct

    host, port = srv.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    auth = base64.b64encode(b"alice:secret").decode()
    sock.sendall(
        (
            f"PUT /remote.php/dav/{prefix}/alice/{path} HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Basic {auth}\r\nContent-Length: {declared}\r\n\r\n"
        ).encode()
    )
    sock.setblocking(False)
    body = memoryview(b"x" * send)
    try:
        while body:
            body = body[sock.send(body) :]
    except BlockingIOError:
        pass  # the socket buffers are full: the server reads slowly (bandwidth cap)
    if reset:  # as tellakit's client gives up: the queued bytes are dropped
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.mark.parametrize("reset", [True, False], ids=["reset", "close"])
def test_an_abandoned_chunk_put_releases_its_lock_when_the_client_is_gone(devserver, reset):
    assert dav("MKCOL", up(devserver, "gone")).status_code == 201
    devserver.faults.bandwidth(16 * 1024)  # paced reads: a dead request's bytes last long
    # "close": what fits in the server's receive buffer (the FIN arrives behind it); paced
    # at 16 KiB/s that kept the chunk locked (423) for many seconds after the client left.
    _abandon_chunk_put(devserver, "gone/1", 8 * MIB, 4 * MIB if reset else 96 * 1024, reset=reset)
    # Wait for the abandoned request to end on the server (it is logged when it unwinds);
    # the bandwidth cap stops pacing a request whose client has hung up.
    deadline = time.monotonic() + 4
    while not devserver.log.filter("PUT", "/uploads/alice/gone/1"):
        assert time.monotonic() < deadline, "the abandoned PUT still holds the chunk"
        time.sleep(0.05)
    devserver.faults.clear()
    r = dav("PUT", up(devserver, "gone/1"), data=b"A")
    assert r.status_code == 201, r.text  # not 423: the lock went with the request
    assert listing(devserver, "gone")["1"] == 1  # and the abandoned body was not kept


@pytest.mark.parametrize("kind", ["chunk", "file"])
def test_under_a_cap_a_reset_client_leaves_its_put_incomplete(devserver, kind):
    # The whole 1 MiB body is handed to the socket (it would fit a default receive buffer),
    # then the client resets. Under a 64 KiB/s cap most of it has not crossed the emulated
    # link yet: like a real slow link, the server must not complete the PUT with it.
    assert dav("MKCOL", up(devserver, "cap")).status_code == 201
    devserver.faults.bandwidth(64 * 1024)
    path, prefix = ("cap/1", "uploads") if kind == "chunk" else ("capped.bin", "files")
    _abandon_chunk_put(devserver, path, 1 * MIB, 1 * MIB, reset=True, prefix=prefix)
    deadline = time.monotonic() + 10
    while not devserver.log.filter("PUT", path):
        assert time.monotonic() < deadline, "the abandoned PUT did not end on the server"
        time.sleep(0.05)
    devserver.faults.clear()
    (record,) = devserver.log.filter("PUT", path)
    assert record.status not in (200, 201, 204)
    assert record.bytes_in < 1 * MIB
    if kind == "chunk":
        assert "1" not in listing(devserver, "cap")
    else:
        assert dav("GET", files_url(devserver, "capped.bin")).status_code == 404


def _upload(srv, transfer: str, chunks: list[tuple[str, bytes]], *, x_hash: str) -> dict:
    assert dav("MKCOL", up(srv, transfer)).status_code == 201
    for name, data in chunks:
        assert dav("PUT", up(srv, f"{transfer}/{name}"), data=data).status_code in (201, 204)
    return {"Destination": files_url(srv, f"{transfer}.bin"), "X-Hash": x_hash}


def _move(srv, transfer: str, headers: dict) -> tuple[dict, bytes]:
    r = dav("MOVE", up(srv, f"{transfer}/.file"), headers=headers)
    assert r.status_code == 201, r.text
    return r.headers, (srv.files_root("alice") / f"{transfer}.bin").read_bytes()


@pytest.mark.parametrize(
    "order",
    [
        ["1", "2", "3"],  # in order: hashed as the chunks arrived
        ["2", "1", "3"],  # out of order: hashed while assembling
        ["1", "2", "2", "3"],  # a chunk re-sent
    ],
    ids=["in-order", "out-of-order", "re-sent"],
)
def test_x_hash_of_an_assembled_upload_is_the_hash_of_the_file(devserver, order):
    parts = {"1": os.urandom(300_000), "2": os.urandom(1_500_000), "3": b"end"}
    headers = _upload(devserver, "h", [(n, parts[n]) for n in order], x_hash="all")
    got, stored = _move(devserver, "h", headers)
    assert stored == parts["1"] + parts["2"] + parts["3"]
    assert got["X-Hash-SHA256"] == hashlib.sha256(stored).hexdigest()
    assert got["X-Hash-MD5"] == hashlib.md5(stored, usedforsecurity=False).hexdigest()
    assert got["X-Hash-SHA1"] == hashlib.sha1(stored, usedforsecurity=False).hexdigest()


def test_a_chunk_changed_on_disk_after_it_arrived_is_hashed_as_stored(devserver):
    # The hash computed on arrival is only used for exactly the chunk files it covered.
    headers = _upload(devserver, "d", [("1", b"a" * 1000), ("2", b"b" * 1000)], x_hash="sha256")
    folder = devserver.files_root("alice").parent / "uploads" / "d"
    (folder / "2").write_bytes(b"c" * 1000)  # same size, other content
    # pinned, so a rewrite within one timestamp tick of the upload cannot hide the change
    os.utime(folder / "2", ns=(1_000_000_000, 1_000_000_000))
    got, stored = _move(devserver, "d", headers)
    assert stored == b"a" * 1000 + b"c" * 1000
    assert got["X-Hash-SHA256"] == hashlib.sha256(stored).hexdigest()


def test_move_without_x_hash_answers_no_hash_and_assembles(devserver):
    data = [("1", os.urandom(2 * MIB)), ("2", os.urandom(MIB + 7))]
    headers = _upload(devserver, "n", data, x_hash="")
    del headers["X-Hash"]
    got, stored = _move(devserver, "n", headers)
    assert stored == data[0][1] + data[1][1]  # copied in the kernel (copy_file_range)
    assert not [h for h in got if h.lower().startswith("x-hash")]
