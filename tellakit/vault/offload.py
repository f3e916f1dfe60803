"""SHA-256 on a second thread, overlapped with decryption or encryption in the calling one.

hashlib releases the GIL while it hashes a large buffer, and file reads and writes release it
too, so on two cores the plaintext's SHA-256 (the largest cost of a vault read or import after
the data itself) runs beside the ChaCha20-Poly1305 work instead of after it. The digest is
exactly the one a plain ``hashlib.sha256()`` fed the same bytes in the same order gives.

Memory stays constant: the data goes through ``SLOTS`` buffers of ``SLOT`` bytes that the
hashing thread hands back when done; a caller that gets ahead waits for a free one. Less than
one slot in total is hashed in the calling thread at the end, without starting a thread (small
files cost no thread at all).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

SLOT = 1024 * 1024
SLOTS = 4


class Offload:
    """Applies ``work`` to buffers on a second thread, in the order given.

    Feed it with ``update`` (copies, so the caller may reuse its buffer at once) or with
    ``slot``/``submit`` (no copy). ``finish`` waits for the last buffer and raises what
    ``work`` raised; ``abandon`` stops without waiting for a result.
    """

    name = "tellakit-offload"

    def __init__(self, work: Callable[[memoryview], object]) -> None:
        self._work = work
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self._todo: queue.SimpleQueue[tuple[bytearray, int] | None] = queue.SimpleQueue()
        self._slots = 0
        self._thread: threading.Thread | None = None
        self._first: tuple[bytearray, int] | None = None  # submitted, no thread started yet
        self._current: bytearray | None = None  # the slot ``update`` copies into
        self._filled = 0
        self._done = False
        self._error: BaseException | None = None

    def slot(self) -> bytearray:
        """A free buffer of ``SLOT`` bytes to fill and pass to ``submit`` (waits if all busy)."""
        if self._slots < SLOTS:
            try:
                return self._free.get_nowait()
            except queue.Empty:
                self._slots += 1
                return bytearray(SLOT)
        return self._free.get()

    def submit(self, buf: bytearray, n: int) -> None:
        """Work on ``buf[:n]`` on the second thread; the caller may still read ``buf``, not
        change it, until it asks for its next slot."""
        if self._done:
            raise ValueError("this offload was already finished or abandoned")
        if self._error is not None:
            raise self._error
        if self._current is not None and buf is not self._current:
            # what ``update`` copied in before this buffer goes first
            current, filled, self._current = self._current, self._filled, None
            self.submit(current, filled)
        if self._thread is None:
            if self._first is None:  # maybe the only one: no thread for it yet
                self._first = (buf, n)
                return
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
            self._todo.put(self._first)
            self._first = None
        self._todo.put((buf, n))

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Queue a copy of ``data``."""
        view = memoryview(data).cast("B")
        while view:
            if self._current is None:
                self._current, self._filled = self.slot(), 0
            take = min(len(view), SLOT - self._filled)
            self._current[self._filled : self._filled + take] = view[:take]
            self._filled += take
            view = view[take:]
            if self._filled == SLOT:
                self.submit(self._current, SLOT)
                self._current = None

    def finish(self) -> None:
        """Wait until everything given so far went through ``work`` (call once)."""
        if self._done:
            raise ValueError("this offload was already finished or abandoned")
        self._done = True
        if self._thread is not None:
            self._todo.put(None)
            self._thread.join()
            self._thread = None
        if self._error is not None:
            raise self._error
        # What never needed the thread (a single slot, the tail) is done here.
        if self._first is not None:
            self._work(memoryview(self._first[0])[: self._first[1]])
        if self._current is not None:
            self._work(memoryview(self._current)[: self._filled])
        self._first = self._current = None

    def abandon(self) -> None:
        """Stop without a result (idempotent)."""
        self._first = self._current = None
        if not self._done:
            with contextlib.suppress(BaseException):
                self.finish()

    def _run(self) -> None:
        while (item := self._todo.get()) is not None:
            buf, n = item
            try:
                if self._error is None:
                    self._work(memoryview(buf)[:n])
            except BaseException as exc:  # raised to the caller; the slots keep flowing back
                self._error = exc
            self._free.put(buf)


class BackgroundSha256(Offload):
    """The SHA-256 of what is given, computed on a second thread."""

    name = "tellakit-sha256"

    def __init__(self) -> None:
        self._digest: Any = hashlib.sha256()
        super().__init__(self._digest.update)

    def hexdigest(self) -> str:
        """Wait for everything given so far to be hashed; the SHA-256 in hex (call once)."""
        self.finish()
        return str(self._digest.hexdigest())


class BackgroundWriter(Offload):
    """A write-only file whose writes happen on a second thread (``finish`` before fsync).

    Every ``flush_every`` bytes it also asks the disk to take what was written so far
    (``BackgroundFlush``), so the final fsync that makes the file durable has little left.
    """

    name = "tellakit-write"

    def __init__(self, raw: BinaryIO, flush_every: int | None = None) -> None:
        self._raw = raw
        self._flush = BackgroundFlush(raw.fileno(), flush_every or FLUSH_EVERY)
        super().__init__(self._write)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Queue ``data`` to be written (copied); returns its length."""
        self.update(data)
        return memoryview(data).nbytes

    def _write(self, view: memoryview) -> None:
        self._raw.write(view)
        self._flush.wrote(len(view))

    def finish(self) -> None:
        """Write everything queued, raise a write error, and stop the flushing."""
        try:
            super().finish()
        finally:
            self._flush.finish()

    def abandon(self) -> None:
        """Drop what is queued (the file is being thrown away)."""
        super().abandon()
        self._flush.finish()


#: Bytes written between two background flushes of a file being imported.
FLUSH_EVERY = 32 * 1024 * 1024


class BackgroundFlush:
    """Pushes a file's written data to the disk on a second thread while more is written.

    The final ``os.fsync`` that makes an import durable then finds little left to write,
    instead of waiting for the whole file at the end. ``wrote(n)`` after each write; ``finish``
    before that final fsync. Small files (under ``FLUSH_EVERY``) start no thread.
    """

    def __init__(self, fd: int, every: int = FLUSH_EVERY) -> None:
        self._fd = fd
        self._every = every
        self._pending = 0
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None

    def wrote(self, n: int) -> None:
        """Count ``n`` more bytes written; past ``every`` of them, ask for a flush."""
        self._pending += n
        if self._pending < self._every:
            return
        self._pending = 0
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tellakit-flush", daemon=True)
            self._thread.start()
        self._wake.set()

    def finish(self) -> None:
        """Wait for a flush in progress and stop the thread (the caller fsyncs after)."""
        self._stop = True
        if self._thread is not None:
            self._wake.set()
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stop:
                return
            try:
                os.fdatasync(self._fd)
            except OSError:  # the final fsync reports a real failure; this is only early work
                return


def fill(source: Any, buf: bytearray | memoryview) -> int:
    """Fill ``buf`` from ``source`` as far as it goes (``readinto`` when it has a working one,
    else ``read``); the byte count, 0 at the end. (tellakit.sealed.reader and
    tellakit.nextcloud.streaming have the same loop for their layers.)"""
    view = memoryview(buf)
    readinto = getattr(source, "readinto", None)
    filled = 0
    while filled < len(view):
        if readinto is not None:
            try:
                n = readinto(view[filled:])
            except NotImplementedError:  # io.RawIOBase's stub when only read() is written
                readinto = None
                continue
        else:
            data = source.read(len(view) - filled)
            n = len(data)
            view[filled : filled + n] = data
        if not n:
            break
        filled += n
    return filled
