"""Which chunks a resumed upload keeps: the confirmed ones plus at most one whole in-flight one;
the digest of chunk bodies read in order."""

from __future__ import annotations

import hashlib
import io

from tellakit.engine.transfer import GuardedReader, InOrderDigest, ResumePoint, resume_point

M = 1 << 20


def test_keeps_confirmed_chunks_and_resends_a_partial_in_flight_chunk():
    received = [("00001", 10 * M), ("00002", 10 * M), ("00003", 3 * M)]
    point = resume_point(received, confirmed=20 * M, in_flight=10 * M, total=50 * M)
    assert point == ResumePoint(20 * M, 3)


def test_keeps_a_whole_in_flight_chunk_whose_confirmation_was_lost():
    received = [("00001", 10 * M), ("00002", 10 * M), ("00003", 10 * M)]
    point = resume_point(received, confirmed=20 * M, in_flight=10 * M, total=50 * M)
    assert point == ResumePoint(30 * M, 4)


def test_keeps_at_most_one_unconfirmed_chunk():
    received = [("00001", 10 * M), ("00002", 10 * M), ("00003", 10 * M)]
    point = resume_point(received, confirmed=10 * M, in_flight=10 * M, total=50 * M)
    assert point == ResumePoint(20 * M, 3)


def test_last_chunk_of_the_file_counts_as_whole():
    received = [("00001", 10 * M), ("00002", 7 * M)]
    point = resume_point(received, confirmed=10 * M, in_flight=None, total=17 * M)
    assert point == ResumePoint(17 * M, 3)


def test_gap_or_junk_stops_the_kept_run_and_server_truth_wins_over_the_index():
    received = [("00001", 10 * M), (".file", 30 * M), ("00003", 10 * M)]
    assert resume_point(received, confirmed=30 * M, in_flight=10 * M, total=50 * M) == (
        ResumePoint(10 * M, 2)
    )
    assert resume_point([], confirmed=30 * M, in_flight=10 * M, total=50 * M) == ResumePoint(0, 1)


def _read(digest: InOrderDigest, data: bytes, offset: int, size: int) -> None:
    """A chunk body's reads through its own reader: ``size`` bytes from ``offset``."""
    reader = GuardedReader(io.BytesIO(data), digest)  # type: ignore[arg-type]
    reader.seek(offset)
    buf = bytearray(3)
    while size > 0:
        size -= reader.readinto(memoryview(buf)[: min(3, size)])


def test_chunk_bodies_read_in_order_by_several_readers_give_the_whole_digest():
    data = bytes(range(20))
    digest = InOrderDigest()
    _read(digest, data, 0, 8)
    _read(digest, data, 0, 8)  # chunk 1 sent again: already hashed, skipped
    _read(digest, data, 8, 8)
    assert digest.sha256_hex(20) is None  # not all of it yet
    _read(digest, data, 16, 4)
    assert digest.sha256_hex(20) == hashlib.sha256(data).hexdigest()


def test_a_read_past_a_gap_gives_no_digest():
    data = bytes(range(20))
    digest = InOrderDigest()
    _read(digest, data, 8, 8)  # chunk 2 before chunk 1 (a resume, or bodies side by side)
    _read(digest, data, 0, 8)
    _read(digest, data, 16, 4)
    assert digest.sha256_hex(20) is None
