"""The SHA-256 of a chunked upload computed while its chunks arrive (devserver.arrival)."""

from __future__ import annotations

import hashlib
import os
import threading
import time

import pytest

from tellakit.devserver.arrival import ArrivalHashes
from tests.devserver.helpers import dav, files_url

MIB = 1024 * 1024


def _put(folder, hashes, name: str, data: bytes, *, finish: bool = True):
    """begin() a chunk PUT of ``name``; with ``finish`` store it and end() it."""
    digest = hashes.begin("alice", folder, name)
    if not finish:
        return digest
    _end(folder, hashes, name, data, digest)
    return digest


def _end(folder, hashes, name: str, data: bytes, digest) -> None:
    if digest is not None:
        digest.update(data)
    (folder / name).write_bytes(data)
    hashes.end("alice", folder, name, digest, True)


def _known(folder, hashes) -> str | None:
    chunks = sorted((p for p in folder.iterdir()), key=lambda p: int(p.name))
    return hashes.hashed("alice", folder, chunks)


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "upload"
    path.mkdir()
    return path


def test_chunks_completing_out_of_order_are_hashed_in_order(folder):
    hashes = ArrivalHashes()
    parts = {n: os.urandom(1000 + n) for n in (1, 2, 3)}
    one = _put(folder, hashes, "1", parts[1], finish=False)  # in flight, hashed on the way in
    two = _put(folder, hashes, "2", parts[2], finish=False)  # starts behind it: not inline
    assert one is not None and two is None
    _end(folder, hashes, "2", parts[2], two)  # completes first: waits
    assert _known(folder, hashes) is None
    _end(folder, hashes, "1", parts[1], one)  # catches up with 2
    _put(folder, hashes, "3", parts[3])
    assert _known(folder, hashes) == hashlib.sha256(parts[1] + parts[2] + parts[3]).hexdigest()


def test_a_chunk_before_one_already_hashed_breaks_the_run(folder):
    hashes = ArrivalHashes()
    _put(folder, hashes, "1", b"a")
    _put(folder, hashes, "3", b"c")  # a gap: 2 never started
    _put(folder, hashes, "2", b"b")  # sorts before 3, which is hashed
    assert _known(folder, hashes) is None  # hashed at assembly instead


def test_v2_chunks_after_a_gap_wait_for_the_numbers_before_them(folder):
    hashes = ArrivalHashes()
    for name, data in (("3", b"c"), ("1", b"a"), ("2", b"b")):  # 3 was quickest
        digest = hashes.begin("alice", folder, name, numbered=True)
        _end(folder, hashes, name, data, digest)
    assert _known(folder, hashes) == hashlib.sha256(b"abc").hexdigest()


def test_a_re_sent_chunk_breaks_the_run(folder):
    hashes = ArrivalHashes()
    _put(folder, hashes, "1", b"a")
    _put(folder, hashes, "1", b"a")
    assert _known(folder, hashes) is None


def test_a_prefix_grown_while_an_inline_chunk_was_received_makes_it_wait(folder):
    hashes = ArrivalHashes()
    two = _put(folder, hashes, "2", b"b", finish=False)  # first in flight: inline
    one = _put(folder, hashes, "1", b"a", finish=False)  # sorts before: inline too
    _end(folder, hashes, "1", b"a", one)  # appended; 2's copy of the hash is now stale
    _end(folder, hashes, "2", b"b", two)  # so 2 is read back and hashed after 1
    assert _known(folder, hashes) == hashlib.sha256(b"ab").hexdigest()


def test_a_failed_put_leaves_the_run_waiting_for_that_chunk(folder):
    hashes = ArrivalHashes()
    _put(folder, hashes, "1", b"a")
    hashes.begin("alice", folder, "2")
    hashes.end("alice", folder, "2", None, False)  # cut: no chunk file
    _put(folder, hashes, "2", b"b")  # sent again
    assert _known(folder, hashes) == hashlib.sha256(b"ab").hexdigest()


def test_parallel_chunk_puts_get_the_hash_without_reading_back_at_move(devserver):
    parts = [os.urandom(5 * MIB + i) for i in range(4)]
    parts.append(b"tail")
    dest = files_url(devserver, "par.bin")
    base = f"{devserver.url}/remote.php/dav/uploads/alice/par"
    assert dav("MKCOL", base, headers={"Destination": dest}).status_code == 201
    statuses: list[int] = []

    def send(n: int) -> None:
        r = dav("PUT", f"{base}/{n + 1:05d}", data=parts[n], headers={"Destination": dest})
        statuses.append(r.status_code)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(parts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert statuses == [201] * len(parts)
    whole = b"".join(parts)
    expected = hashlib.sha256(whole).hexdigest()
    assert devserver.app.uploads.hashed_on_arrival("alice", "par") == expected
    before = time.time()
    r = dav("MOVE", f"{base}/.file", headers={"Destination": dest, "X-Hash": "sha256"})
    assert r.status_code == 201, r.text
    assert r.headers["X-Hash-SHA256"] == expected
    stored = devserver.files_root("alice") / "par.bin"
    assert stored.read_bytes() == whole
    assert stored.stat().st_mtime >= before - 1  # assembled now, not when a chunk arrived


def test_a_single_chunk_is_moved_into_place_with_the_time_of_the_move(devserver):
    base = f"{devserver.url}/remote.php/dav/uploads/alice/one"
    assert dav("MKCOL", base).status_code == 201
    data = os.urandom(MIB)
    assert dav("PUT", f"{base}/1", data=data).status_code == 201
    chunk = devserver.files_root("alice").parent / "uploads" / "one" / "1"
    os.utime(chunk, (1_000_000_000, 1_000_000_000))  # a chunk that arrived long ago
    r = dav(
        "MOVE",
        f"{base}/.file",
        headers={"Destination": files_url(devserver, "one.bin"), "X-Hash": "md5"},
    )
    assert r.status_code == 201, r.text
    stored = devserver.files_root("alice") / "one.bin"
    assert stored.read_bytes() == data
    assert r.headers["X-Hash-MD5"] == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert stored.stat().st_mtime > 1_000_000_000 + 86400
    assert not (devserver.files_root("alice").parent / "uploads" / "one").exists()
