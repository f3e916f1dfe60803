"""The second-thread helpers of the vault's data path (hashing, writing)."""

from __future__ import annotations

import hashlib
import io
import os
import threading

import pytest

from tellakit.vault.offload import SLOT, SLOTS, BackgroundSha256, BackgroundWriter


@pytest.mark.parametrize("step", [1000, 4096, SLOT - 1, SLOT, 3 * SLOT + 5])
@pytest.mark.parametrize("size", [0, 10, SLOT, 5 * SLOT + 123])
def test_digest_equals_hashlib_whatever_the_pieces(size: int, step: int) -> None:
    data = os.urandom(size)
    background = BackgroundSha256()
    buf = bytearray(step)
    for i in range(0, size, step):
        piece = data[i : i + step]
        buf[: len(piece)] = piece
        background.update(memoryview(buf)[: len(piece)])  # the caller reuses its buffer
    assert background.hexdigest() == hashlib.sha256(data).hexdigest()


def test_submitted_slots_are_hashed_in_order_with_bounded_memory() -> None:
    data = os.urandom(9 * SLOT + 77)
    background = BackgroundSha256()
    seen: set[int] = set()
    for i in range(0, len(data), SLOT):
        slot = background.slot()
        seen.add(id(slot))
        piece = data[i : i + SLOT]
        slot[: len(piece)] = piece
        background.submit(slot, len(piece))
    assert background.hexdigest() == hashlib.sha256(data).hexdigest()
    assert len(seen) <= SLOTS  # slots are reused, never more than SLOTS of them


def test_a_small_input_starts_no_thread() -> None:
    before = threading.active_count()
    background = BackgroundSha256()
    background.update(b"x" * 1000)
    slot = background.slot()
    slot[:5] = b"hello"
    assert threading.active_count() == before
    assert background.hexdigest() == hashlib.sha256(b"x" * 1000).hexdigest()


def test_digest_is_taken_once_and_abandon_stops_the_thread() -> None:
    background = BackgroundSha256()
    background.update(os.urandom(3 * SLOT))
    background.abandon()
    background.abandon()
    with pytest.raises(ValueError):
        background.hexdigest()
    assert not [t for t in threading.enumerate() if t.name == "tellakit-sha256"]


def test_writer_writes_everything_in_order_and_reports_write_errors() -> None:
    class Sink(io.BytesIO):
        def fileno(self) -> int:
            return -1  # never flushed: under FLUSH_EVERY

    sink = Sink()
    writer = BackgroundWriter(sink)
    data = os.urandom(3 * SLOT + 11)
    for i in range(0, len(data), 70_000):
        assert writer.write(data[i : i + 70_000]) == len(data[i : i + 70_000])
    writer.finish()
    assert sink.getvalue() == data

    class Full(Sink):
        def write(self, data: object) -> int:
            raise OSError(28, "No space left on device")

    failing = BackgroundWriter(Full())
    with pytest.raises(OSError, match="No space"):
        for _ in range(8):
            failing.write(bytes(SLOT))
        failing.finish()
    failing.abandon()
