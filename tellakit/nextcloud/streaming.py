"""Request bodies streamed from a file-like source in constant memory.

``StreamBody`` is what ``put`` and ``upload_chunk`` hand to requests: it has ``__len__`` (so
requests sends ``Content-Length``, never chunked transfer encoding, which Nextcloud's PUT does
not accept) and ``__iter__`` (so urllib3 sends the pieces it yields, one ``sendall`` each).

It reads the source in blocks of about 1 MiB into one reused buffer and yields slices of it.
A slice is 64 KiB to 256 KiB: it grows while the network takes it quickly (fewer system calls)
and shrinks when a slice takes long, so that between two slices (where ``cancel`` is checked)
at most about a quarter of a second passes even on a slow link. ``on_progress`` is called after
every slice, so at least every 256 KiB.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Protocol

from tellakit.nextcloud.cancel import Cancelled, CancelToken, is_cancelled

READ_SIZE = 1024 * 1024
MIN_SLICE = 64 * 1024
MAX_SLICE = 256 * 1024
#: A slice should leave the process within this time, so a pause is honoured quickly.
SLICE_TARGET_SECONDS = 0.25

ProgressCallback = Callable[[int], None]


class Readable(Protocol):
    """The part of a file object a body needs (vault BlobReader, io.BytesIO, open(...))."""

    def read(self, n: int = -1, /) -> bytes:  # pragma: no cover - protocol
        """Read up to n bytes."""
        ...


class ShortRead(ValueError):
    """The source ended before ``size`` bytes: the body would not match its Content-Length."""


class StreamBody:
    """Yield exactly ``size`` bytes of ``source``; see the module docstring."""

    def __init__(
        self,
        source: Readable,
        size: int,
        *,
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        read_size: int = READ_SIZE,
    ) -> None:
        if size < 0:
            raise ValueError("size must be >= 0")
        self.source = source
        self.size = size
        self.on_progress = on_progress
        self.cancel = cancel
        self.read_size = max(MIN_SLICE, read_size)
        self.sent = 0  # bytes handed to the socket
        self.cancelled = False
        self.error: BaseException | None = None  # what stopped the body from our side
        self._started = False

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[memoryview]:
        if self._started:
            # requests may try to re-send a body (redirect, auth retry); a stream cannot rewind.
            raise RuntimeError("a StreamBody can be sent only once")
        self._started = True
        try:
            yield from self._pieces()
        except GeneratorExit:
            # The consumer closed us: urllib3 stops iterating when the socket breaks mid-body
            # (it swallows EPIPE/ECONNRESET there and then fails reading the answer). That is
            # the transport's failure, mapped to ConnectionLost by the caller, not ours.
            raise
        except BaseException as exc:
            self.error = exc
            raise

    def _check_cancel(self) -> None:
        if is_cancelled(self.cancel):
            self.cancelled = True
            raise Cancelled(bytes_sent=self.sent)

    def _pieces(self) -> Iterator[memoryview]:
        buf = bytearray(min(self.read_size, max(self.size, 1)))
        view = memoryview(buf)
        slice_size = MIN_SLICE
        remaining = self.size
        self._check_cancel()
        while remaining > 0:
            want = min(len(buf), remaining)
            got = _read_into(self.source, view[:want])
            if got == 0:
                raise ShortRead(
                    f"the source ended after {self.size - remaining} of {self.size} bytes"
                )
            remaining -= got
            pos = 0
            while pos < got:
                self._check_cancel()
                end = min(got, pos + slice_size)
                started = time.monotonic()
                yield view[pos:end]  # urllib3 sends it before asking for the next piece
                took = time.monotonic() - started
                self.sent += end - pos
                pos = end
                if self.on_progress is not None:
                    self.on_progress(self.sent)
                slice_size = _next_slice(slice_size, took)
        # No check after the last piece: the body is with the kernel. From here on the watch
        # of the request (abort.py) cuts the connection if the token is set before the answer.


def _next_slice(current: int, took: float) -> int:
    if took > SLICE_TARGET_SECONDS:
        return max(MIN_SLICE, current // 2)
    if took < SLICE_TARGET_SECONDS / 4:
        return min(MAX_SLICE, current * 2)
    return current


def _read_into(source: Readable, target: memoryview) -> int:
    """Fill ``target`` from ``source`` as far as it goes; return the byte count (0 = EOF)."""
    readinto = getattr(source, "readinto", None)
    filled = 0
    while filled < len(target):
        if readinto is not None:
            n = readinto(target[filled:])
            if not n:
                break
            filled += n
        else:
            data = source.read(len(target) - filled)
            if not data:
                break
            target[filled : filled + len(data)] = data
            filled += len(data)
    return filled
