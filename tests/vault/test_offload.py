"""The second-thread helpers of the vault's data path (hashing, writing)."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from typing import Any

import pytest

from tellakit.errors import VaultCorrupted
from tellakit.vault import Vault
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


def test_a_large_read_still_ends_with_the_sha256_check(vault: Vault) -> None:
    data = os.urandom(5 * SLOT + 3)  # several slots: the hash runs on its thread
    f = vault.import_bytes(data, "big.bin")
    assert f.sha256 == hashlib.sha256(data).hexdigest()  # the import's threaded hash
    buf = bytearray(70_000)
    with vault.open_file(f.id) as reader:  # a read that restarts from 0 is checked too
        reader.readinto(buf)
        reader.seek(0)
        out = bytearray()
        while n := reader.readinto(buf):
            out += buf[:n]
    assert bytes(out) == data
    with vault._index.transaction() as cur:  # an index that disagrees with the blob
        cur.execute("UPDATE files SET sha256 = ? WHERE id = ?", ("0" * 64, f.id))
    with vault.open_file(f.id) as reader, pytest.raises(VaultCorrupted, match="SHA-256"):
        while reader.readinto(buf):
            pass
    assert not [t for t in threading.enumerate() if t.name == "tellakit-sha256"]


def test_an_import_that_fails_midway_leaves_no_thread_and_no_blob(vault: Vault) -> None:
    class Broken(io.RawIOBase):
        def __init__(self) -> None:
            self.left = 6 * SLOT

        def readinto(self, buf: Any) -> int:
            if self.left <= 0:
                raise OSError("disk gone")
            n = min(len(buf), self.left)
            buf[:n] = bytes(n)
            self.left -= n
            return n

    with pytest.raises(OSError, match="disk gone"):
        vault.import_fileobj(Broken(), "broken.bin")  # type: ignore[arg-type]
    assert vault.list_files() == []
    assert not any(p.is_file() for p in (vault.path / "blobs").rglob("*"))
    names = {t.name for t in threading.enumerate()}
    assert not names & {"tellakit-sha256", "tellakit-write", "tellakit-flush"}
