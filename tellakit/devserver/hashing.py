"""Hashing a request body on a second thread while the request thread receives and writes it.

hashlib releases the GIL for large updates, so on a machine with two cores SHA-256 (the slow
part: 150-200 MiB/s without SHA extensions) overlaps with reading the socket and writing the
file instead of following it. What is computed is exactly the same hash.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

#: Blocks waiting to be hashed at most (bounds the memory of a slow hasher: 8 x 1 MiB).
DEPTH = 8


class BackgroundHash:
    """Feeds blocks to hashlib objects on a worker thread; ``join`` waits for the last one."""

    def __init__(self, digests: list[Any]) -> None:
        self._digests = digests
        self._queue: queue.Queue[bytes | None] = queue.Queue(DEPTH)
        self._thread = threading.Thread(target=self._run, name="devserver-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (block := self._queue.get()) is not None:
            for digest in self._digests:
                digest.update(block)

    def update(self, block: bytes) -> None:
        """Queue an immutable block (bytes) for hashing."""
        self._queue.put(block)

    def join(self) -> None:
        """Wait until every queued block is hashed (call once, also after a failure)."""
        self._queue.put(None)
        self._thread.join()
