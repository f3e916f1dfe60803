"""StreamBody: exact length, constant-size pieces, progress and cancel (pure, no HTTP)."""

from __future__ import annotations

import io
import threading

import pytest

from tellakit.nextcloud.cancel import Cancelled
from tellakit.nextcloud.streaming import MAX_SLICE, ShortRead, StreamBody


def test_yields_exactly_size_bytes_from_an_offset() -> None:
    data = bytes(range(256)) * 20000  # 5 MB
    src = io.BytesIO(data)
    src.seek(1000)
    body = StreamBody(src, 3_000_000)
    assert len(body) == 3_000_000
    out = b"".join(bytes(p) for p in body)
    assert out == data[1000:3_001_000]
    assert body.sent == 3_000_000


def test_pieces_are_bounded_and_progress_comes_every_256_kib() -> None:
    seen: list[int] = []
    body = StreamBody(io.BytesIO(b"x" * 5_000_000), 5_000_000, on_progress=seen.append)
    sizes = [len(p) for p in body]
    assert max(sizes) <= MAX_SLICE
    assert seen[-1] == 5_000_000
    gaps = [b - a for a, b in zip([0, *seen[:-1]], seen, strict=True)]
    assert max(gaps) <= 256 * 1024


def test_zero_bytes_yields_nothing() -> None:
    assert list(StreamBody(io.BytesIO(b""), 0)) == []


def test_short_source_raises_instead_of_hanging_the_request() -> None:
    with pytest.raises(ShortRead):
        list(StreamBody(io.BytesIO(b"abc"), 10))


def test_cancel_between_pieces_stops_the_body() -> None:
    cancel = threading.Event()
    body = StreamBody(io.BytesIO(b"y" * 4_000_000), 4_000_000, cancel=cancel)
    it = iter(body)
    next(it)
    next(it)
    cancel.set()
    with pytest.raises(Cancelled) as info:
        next(it)
    assert body.cancelled
    assert info.value.bytes_sent == body.sent < 4_000_000


def test_source_without_readinto_works() -> None:
    class OnlyRead:
        def __init__(self, data: bytes) -> None:
            self.buf = io.BytesIO(data)

        def read(self, n: int = -1) -> bytes:
            return self.buf.read(min(n, 1000))  # short reads on purpose

    body = StreamBody(OnlyRead(b"z" * 100_000), 100_000)
    assert b"".join(bytes(p) for p in body) == b"z" * 100_000


def test_body_cannot_be_sent_twice() -> None:
    body = StreamBody(io.BytesIO(b"abc"), 3)
    list(body)
    with pytest.raises(RuntimeError):
        list(body)


def test_a_body_closed_by_its_consumer_records_no_error_of_its_own() -> None:
    # urllib3 closes the body mid-way when the socket breaks; that is the transport's failure.
    body = StreamBody(io.BytesIO(bytes(1_000_000)), 1_000_000)
    pieces = iter(body)
    next(pieces)
    pieces.close()  # type: ignore[attr-defined]
    assert body.error is None
    assert body.sent < 1_000_000
