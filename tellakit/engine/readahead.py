"""``ReadAhead``: a request body whose bytes are produced on a second thread, ahead of the send.

A sealed upload's body costs CPU to make (the vault's decryption, the organization's
encryption, the SHA-256 of the ciphertext: about three times the plain body's work). Made on
the sending thread, that work and the send take turns: while a batch is sealed nothing is
sent, while the socket is full nothing is sealed. Here a producer thread reads the wrapped
reader sequentially into a few recycled buffers while the request's thread sends the ones
ready; hashlib and socket writes release the GIL, so the two overlap.

The wrapped reader is only ever touched by the one producer thread of the moment. A seek to
where the caller already is costs nothing (each chunk of a chunked upload seeks to its start);
any other seek stops the producer and starts a new one there. An error of the wrapped reader
(a vault file that fails authentication, a locked vault) is raised by the caller's read that
reaches it, never earlier. Memory: ``depth`` + 1 buffers of ``block`` bytes.

Thread rules: one caller thread reads, seeks and closes; one producer thread per position
reads the wrapped reader; they meet only through the queue of filled buffers and the queue of
free ones, and the producer's stop event.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import Any

from tellakit.vault.age.seekable import SeekableReader

BLOCK = 1024 * 1024
DEPTH = 4
_WAIT = 0.2  # seconds a blocked producer waits before it looks at its stop event again
_END = object()


class _Producer:
    """One producer thread, reading the wrapped reader from ``start`` on."""

    def __init__(self, reader: Any, start: int, block: int, depth: int) -> None:
        self.ready: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self.free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self.stop = threading.Event()
        self._reader = reader
        self._start = start
        self._block = block
        self._buffers = depth + 1  # one is the caller's while the others are queued or filled
        self._made = 0
        self.thread = threading.Thread(target=self._run, name="tellakit-readahead", daemon=True)
        self.thread.start()

    def _buffer(self) -> bytearray | None:
        if self._made < self._buffers:
            self._made += 1
            return bytearray(self._block)
        while not self.stop.is_set():
            try:
                return self.free.get(timeout=_WAIT)
            except queue.Empty:
                continue
        return None

    def _put(self, item: Any) -> bool:
        while not self.stop.is_set():
            try:
                self.ready.put(item, timeout=_WAIT)
            except queue.Full:
                continue
            else:
                return True
        return False

    def _run(self) -> None:
        try:
            self._reader.seek(self._start)
        except BaseException as exc:  # raised in the caller's thread, at its next read
            self._put(exc)
            return
        while (buf := self._buffer()) is not None:
            n, error = self._fill(buf)
            if n and not self._put((buf, n)):
                return
            if error is not None:  # after the bytes read before it
                self._put(error)
                return
            if n < len(buf):
                self._put(_END)
                return

    def _fill(self, buf: bytearray) -> tuple[int, BaseException | None]:
        """Fill ``buf`` as far as the reader goes; the byte count, and the error that
        stopped it (None at the end or when full)."""
        view = memoryview(buf)
        filled = 0
        try:
            while filled < len(buf):
                n = self._reader.readinto(view[filled:])
                if not n:
                    break
                filled += n
        except BaseException as exc:
            return filled, exc
        return filled, None

    def close(self) -> None:
        """Stop the thread and wait for it (the wrapped reader is free again after this)."""
        self.stop.set()
        self.thread.join()


class ReadAhead(SeekableReader):
    """A read-only, seekable view of ``reader`` (``size`` bytes, with ``readinto``) read ahead
    on a thread.

    ``inner`` is the wrapped reader (to ask it what it learnt, e.g. a digest, once every
    byte was read); closing this closes it.
    """

    def __init__(self, reader: Any, size: int, *, block: int = BLOCK, depth: int = DEPTH) -> None:
        super().__init__()
        if block < 1 or depth < 1:
            raise ValueError("block and depth must be >= 1")
        self.inner = reader
        self.size = size
        self._block = block
        self._depth = depth
        self._pos = 0
        self._producer: _Producer | None = None
        self._buf: bytearray | None = None  # the buffer being read from
        self._buf_len = 0
        self._buf_at = 0
        self._ended = False

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move to ``offset``; anywhere but where the caller is, the producer starts again."""
        was = self._pos
        if super().seek(offset, whence) != was:
            self._stop_producer()
        return self._pos

    def readinto(self, buffer: Any) -> int:
        if self.closed:
            raise ValueError("read from a closed ReadAhead")
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view):
            if self._buf is None and not self._next_buffer():
                break
            assert self._buf is not None
            n = min(len(view) - done, self._buf_len - self._buf_at)
            view[done : done + n] = memoryview(self._buf)[self._buf_at : self._buf_at + n]
            done += n
            self._buf_at += n
            self._pos += n
            if self._buf_at == self._buf_len:
                self._release()
        return done

    def _next_buffer(self) -> bool:
        """Take the next filled buffer; False at the end. Raises the reader's error."""
        if self._ended:
            return False
        if self._producer is None:
            self._producer = _Producer(self.inner, self._pos, self._block, self._depth)
        item = self._producer.ready.get()
        if item is _END:
            self._ended = True
            return False
        if isinstance(item, BaseException):
            self._ended = True
            raise item
        self._buf, self._buf_len = item
        self._buf_at = 0
        return True

    def _release(self) -> None:
        if self._buf is not None and self._producer is not None:
            self._producer.free.put(self._buf)
        self._buf = None

    def _stop_producer(self) -> None:
        if self._producer is not None:
            self._producer.close()
        self._producer = None
        self._buf = None
        self._ended = False

    def close(self) -> None:
        """Stop the producer, then close the wrapped reader."""
        if not self.closed:
            self._stop_producer()
            self.inner.close()
        super().close()
