"""How a file is cut for upload: the size thresholds and the adaptive chunk size.

Chunks start at ``initial`` (10 MiB), never go below ``minimum`` (5 MiB, Nextcloud's v2 lower
bound for every chunk but the last) nor above ``maximum`` (the server's
``files.chunked_upload.max_size`` hint, else 100 MiB), and move toward ``target_seconds`` per
chunk from the measured speed, as the desktop client does: fewer requests on fast links, short
re-sends after a cut on slow ones.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

MiB = 1024 * 1024


@dataclass(frozen=True)
class Tuning:
    """Size knobs of the upload engine. Tests shrink them; production uses the defaults."""

    single_put_limit: int = 10 * MiB  # files below this go in one PUT
    initial_chunk: int = 10 * MiB
    min_chunk: int = 5 * MiB
    max_chunk: int = 100 * MiB
    target_seconds: float = 45.0  # aim for 30-60 s per chunk
    max_chunks: int = 10_000  # Nextcloud v2 chunk numbers run 1..10000

    def for_server(self, max_chunk_size: int | None) -> Tuning:
        """Cap ``max_chunk`` at the server's hint (never below ``min_chunk``)."""
        if not max_chunk_size or max_chunk_size <= 0:
            return self
        cap = max(self.min_chunk, min(self.max_chunk, max_chunk_size))
        return replace(self, max_chunk=cap, initial_chunk=min(self.initial_chunk, cap))

    def use_chunks(self, size: int) -> bool:
        """True when a file of ``size`` bytes goes through a chunked upload."""
        return size >= self.single_put_limit


class ChunkSizer:
    """Chooses the next chunk's size from the speed measured on the previous ones."""

    def __init__(self, tuning: Tuning, *, start: int | None = None):
        self.tuning = tuning
        self._size = self._clamp(start if start else tuning.initial_chunk)

    def _clamp(self, size: int) -> int:
        t = self.tuning
        return max(t.min_chunk, min(t.max_chunk, int(size)))

    @property
    def size(self) -> int:
        """The size the next chunk will have (before trimming to what is left of the file)."""
        return self._size

    def next_size(self, offset: int, total: int, chunk_number: int) -> int:
        """Bytes for the chunk starting at ``offset``; never leaves more chunks than allowed."""
        left = total - offset
        size = self._size
        chunks_left = self.tuning.max_chunks - chunk_number + 1
        if chunks_left > 0 and left > size * chunks_left:
            size = -(-left // chunks_left)  # ceil: fit what is left into the numbers left
        # Do not leave a tail below the minimum: fold it into this chunk.
        if 0 < left - size < self.tuning.min_chunk:
            size = left
        return min(size, left)

    def observe(self, nbytes: int, seconds: float) -> None:
        """Adapt toward ``target_seconds`` per chunk after a chunk of ``nbytes`` took ``seconds``.

        Growth is limited to 2x and shrinking to 1/2 per step so one odd measurement cannot
        swing the size wildly.
        """
        if nbytes <= 0 or seconds <= 0:
            return
        speed = nbytes / seconds
        wanted = speed * self.tuning.target_seconds
        wanted = max(self._size / 2, min(self._size * 2, wanted))
        self._size = self._clamp(int(wanted))
