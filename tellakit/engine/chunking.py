"""How a file is cut for upload: the size thresholds, bulk groups and the adaptive chunk size.

Chunks start at ``initial`` (10 MiB), never go below ``minimum`` (5 MiB, Nextcloud's v2 lower
bound for every chunk but the last) nor above ``maximum`` (the server's
``files.chunked_upload.max_size`` hint, else 100 MiB), and move toward ``target_seconds`` per
chunk from the measured speed, as the desktop client does: fewer requests on fast links, short
re-sends after a cut on slow ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from tellakit.reports import Attachment, FileState

MiB = 1024 * 1024


@dataclass(frozen=True)
class BulkPolicy:
    """Which files go in a bulk request, and how many a request holds.

    A file qualifies while nothing of it is on the server yet (no chunked upload started)
    and it is at most ``file_limit`` bytes; a request holds at most ``max_files`` files and
    ``max_bytes`` bytes (Nextcloud's desktop client sends at most 100 files per request).
    """

    file_limit: int = 1 * MiB
    max_files: int = 100
    max_bytes: int = 16 * MiB

    def fits(self, att: Attachment) -> bool:
        """True when ``att`` may go in a bulk request."""
        fresh = att.state in (FileState.PENDING, FileState.UPLOADING, FileState.FAILED)
        return fresh and att.transfer_id is None and att.size <= self.file_limit

    def groups(
        self, atts: list[Attachment], description: int | None
    ) -> list[tuple[tuple[str, ...], bool]]:
        """The requests for ``atts`` (in order) and the description (its size; None when it
        is already sent): (attachment ids, whether it carries the description) each, the
        description in the first."""
        groups: list[tuple[tuple[str, ...], bool]] = []
        ids: list[str] = []
        carries = description is not None
        size = description or 0
        for att in atts:
            if ids and (len(ids) >= self.max_files or size + att.size > self.max_bytes):
                groups.append((tuple(ids), carries))
                ids, size, carries = [], 0, False
            ids.append(att.id)
            size += att.size
        if ids:
            groups.append((tuple(ids), carries))
        return groups


@dataclass(frozen=True)
class Tuning:
    """Size knobs of the upload engine. Tests shrink them; production uses the defaults."""

    single_put_limit: int = 10 * MiB  # files below this go in one PUT
    initial_chunk: int = 10 * MiB
    min_chunk: int = 5 * MiB
    max_chunk: int = 100 * MiB
    target_seconds: float = 45.0  # aim for 30-60 s per chunk
    max_chunks: int = 10_000  # Nextcloud v2 chunk numbers run 1..10000
    #: small files in bulk requests where the server offers them (None: never)
    bulk: BulkPolicy | None = field(default_factory=BulkPolicy)

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
