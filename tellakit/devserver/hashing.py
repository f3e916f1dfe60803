"""Hashing a request body on a second thread while the request thread receives and writes it.

hashlib releases the GIL for large updates, so on a machine with two cores SHA-256 overlaps
with reading the socket and writing the file instead of following it. What is computed is
exactly the same hash.

The blocks go round a small pool of reusable buffers (two C-level ``SimpleQueue``s, no
``Condition``): the request thread fills a free buffer straight from the socket, writes it,
hands it over, and takes the next free one; the hash thread hashes it in place and gives it
back. No block is copied to be handed over, a hand-off costs two queue operations per MiB,
and the memory of a request is the pool (``DEPTH`` x ``BLOCK``) whatever the body's size;
pools are refilled from buffers earlier requests gave back (at most ``SPARE`` kept idle).
"""

from __future__ import annotations

import queue
import threading
from typing import Any

#: Size of one buffer of the pool (one socket read, one file write, one hash update).
BLOCK = 1024 * 1024
#: Buffers in a pool: one being filled, one being hashed, one spare for the faster side.
DEPTH = 3
#: Buffers kept between requests (allocating and zeroing 3 MiB per chunk PUT showed in
#: profiles of many small chunks); at most this many MiB stay allocated when idle.
SPARE = 12

_spare: list[bytearray] = []
_spare_lock = threading.Lock()


def lend_buffer() -> bytearray:
    """A BLOCK-sized buffer, reused from an earlier request when one is spare."""
    with _spare_lock:
        if _spare:
            return _spare.pop()
    return bytearray(BLOCK)


def return_buffer(buffer: bytearray) -> None:
    """Keep ``buffer`` for a later request (up to SPARE of them), else let it go."""
    if len(buffer) != BLOCK:
        return
    with _spare_lock:
        if len(_spare) < SPARE:
            _spare.append(buffer)


def feed_file(src: Any, digests: list[Any]) -> None:
    """Update ``digests`` with the rest of the open, unbuffered file ``src`` (one lent buffer)."""
    buffer = lend_buffer()
    try:
        with memoryview(buffer) as view:
            while n := src.readinto(buffer):
                with view[:n] as block:
                    for digest in digests:
                        digest.update(block)
    finally:
        return_buffer(buffer)


class BlockHasher:
    """Lends buffers to fill; hashes each one handed back on a worker thread."""

    def __init__(self, digests: list[Any], depth: int = DEPTH) -> None:
        self._digests = digests
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        for _ in range(depth):
            self._free.put(lend_buffer())
        self._todo: queue.SimpleQueue[tuple[bytearray, int] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="devserver-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._todo.get()) is not None:
            buffer, n = item
            with memoryview(buffer) as view, view[:n] as block:
                for digest in self._digests:
                    digest.update(block)
            self._free.put(buffer)

    def buffer(self) -> bytearray:
        """A free buffer to fill (waits while every buffer is being hashed)."""
        return self._free.get()

    def hash(self, buffer: bytearray, n: int) -> None:
        """Hash the first ``n`` bytes of ``buffer`` (do not touch it afterwards)."""
        self._todo.put((buffer, n))

    def give_back(self, buffer: bytearray) -> None:
        """Return a buffer taken with :meth:`buffer` without hashing it."""
        self._free.put(buffer)

    def join(self) -> None:
        """Wait until every handed block is hashed (call once, also after a failure); the
        buffers go back to the spares (those still lent out, after a failure, are dropped)."""
        self._todo.put(None)
        self._thread.join()
        while not self._free.empty():
            return_buffer(self._free.get_nowait())
