"""ReadAhead: the bytes of the wrapped reader, in order, from any offset, made on a second
thread; errors arrive at the read that reaches them; closing stops the thread."""

from __future__ import annotations

import io
import random
import threading

import pytest

from tellakit.engine.readahead import ReadAhead
from tellakit.errors import VaultCorrupted

DATA = random.Random(5).randbytes(300_001)


class Source(io.BytesIO):
    """A BytesIO that counts seeks, notes its reading threads, and can fail at an offset."""

    def __init__(self, data: bytes, fail_at: int | None = None) -> None:
        super().__init__(data)
        self.seeks: list[int] = []
        self.threads: set[str] = set()
        self.fail_at = fail_at

    def seek(self, offset: int, whence: int = 0) -> int:
        self.seeks.append(offset)
        return super().seek(offset, whence)

    def readinto(self, buffer) -> int:  # type: ignore[override]
        self.threads.add(threading.current_thread().name)
        if self.fail_at is not None and self.tell() + len(buffer) > self.fail_at:
            allowed = self.fail_at - self.tell()
            if allowed <= 0:
                raise VaultCorrupted("chunk failed authentication")
            return super().readinto(memoryview(buffer)[:allowed])
        return super().readinto(buffer)


@pytest.mark.parametrize(("block", "depth", "step"), [(4096, 1, 1000), (65536, 4, 70_000)])
def test_reads_give_the_wrapped_bytes_in_order(block: int, depth: int, step: int) -> None:
    source = Source(DATA)
    with ReadAhead(source, len(DATA), block=block, depth=depth) as reader:
        parts = []
        while chunk := reader.read(step):
            parts.append(chunk)
        assert b"".join(parts) == DATA and reader.tell() == len(DATA)
    assert source.closed
    assert source.threads == {"tellakit-readahead"}  # never read on the caller's thread


def test_a_seek_to_where_the_caller_is_costs_nothing_and_any_other_restarts() -> None:
    source = Source(DATA)
    reader = ReadAhead(source, len(DATA), block=10_000, depth=2)
    assert reader.read(25_000) == DATA[:25_000]
    reader.seek(25_000)  # the next chunk of a chunked upload starts where the last ended
    assert reader.read(25_000) == DATA[25_000:50_000]
    assert source.seeks == [0]
    reader.seek(12_345)  # a chunk sent again
    assert reader.read(100) == DATA[12_345:12_445]
    reader.seek(len(DATA) - 10)
    assert reader.read() == DATA[-10:]
    assert reader.read(10) == b""
    assert source.seeks == [0, 12_345, len(DATA) - 10]
    reader.close()
    assert not [t for t in threading.enumerate() if t.name == "tellakit-readahead"]


def test_an_error_of_the_wrapped_reader_comes_after_the_bytes_before_it() -> None:
    source = Source(DATA, fail_at=150_000)
    with ReadAhead(source, len(DATA), block=32_768, depth=3) as reader:
        got = bytearray()
        with pytest.raises(VaultCorrupted):
            while chunk := reader.read(10_000):
                got += chunk
        assert bytes(got) == DATA[:150_000]


def test_closing_mid_way_stops_a_producer_that_waits_for_room() -> None:
    source = Source(DATA)
    reader = ReadAhead(source, len(DATA), block=1000, depth=2)
    assert reader.read(10) == DATA[:10]  # the producer fills its queue, then waits
    reader.close()
    assert source.closed
    assert not [t for t in threading.enumerate() if t.name == "tellakit-readahead"]
    with pytest.raises(ValueError):
        reader.read(1)
