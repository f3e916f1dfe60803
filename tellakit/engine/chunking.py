"""How a file is cut for upload: size thresholds, bulk groups, chunk sizes, chunks in flight.

Two things set the size of the next chunk:

* **time** (``ChunkSizer``): chunks start at ``initial_chunk`` (10 MiB) and move toward
  ``target_seconds`` per chunk from the measured speed, as the desktop client does, up to
  ``max_chunk`` (the server's ``files.chunked_upload.max_size`` hint, else 100 MiB): few
  requests on a link that holds;
* **the link** (``LinkModel.window``, link.py): once a connection has dropped, a chunk is
  kept to what balances the bytes a drop loses against the cost of more requests, from the
  bytes that get through between drops; the window grows again while the link holds.

``ChunkPlanner`` combines them. Up to ``max_in_flight`` chunk PUTs (and what the server allows,
``files.chunked_upload.max_parallel_count``) are in flight: their bodies go one after the
other, the next starting as soon as the one before was handed to the kernel, so answers are
awaited while the next body crosses (``side_by_side`` lets bodies cross together on a link
that holds). When the link limits, a chunk is at most the window (pipeline.py).

Nextcloud's chunking v2 needs chunks of at least 5 MiB (all but the last; ``V2_MIN_CHUNK``),
chunking v1 takes any size. A new upload uses v2 unless the link does not carry 5 MiB chunks
between drops (``LinkModel.carries``) or ``max_chunk`` is smaller: then v1, with chunks down to
``min_chunk`` (256 KiB).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol

from tellakit.reports import Attachment, FileState

MiB = 1024 * 1024
KiB = 1024
#: Chunking v2's smallest chunk (every chunk but the last), from S3's multipart rule.
V2_MIN_CHUNK = 5 * MiB


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
    min_chunk: int = 256 * KiB  # the smallest chunk (chunking v1; v2 never goes below 5 MiB)
    max_chunk: int = 100 * MiB
    target_seconds: float = 45.0  # aim for 30-60 s per chunk
    max_chunks: int = 10_000  # Nextcloud v2 chunk numbers run 1..10000
    #: Size chunks from what the link carried between drops (link.py); off: time only.
    follow_link: bool = True
    #: What one more request costs, in bytes of the link (its headers, the server's work per
    #: request, a round trip not hidden): with the bytes between drops it sets the chunk size
    #: on a link that drops (link.py).
    request_cost: int = 32 * KiB
    #: A chunk "gets through" when it is at most this share of the bytes between drops: the
    #: test for chunking v2's 5 MiB chunks (a drop then costs 1/32 of what gets through).
    link_share: float = 1 / 16
    #: Chunk PUTs of one file at once, at most (the server's hint may allow fewer).
    max_in_flight: int = 3
    #: Let chunk bodies cross side by side on a link that holds. Off (the default), bodies go
    #: one after the other and only the answers overlap: on the machines measured that is as
    #: fast, and the server gets chunks in order (benchmarks/engine.md). On for links where
    #: one connection cannot fill the pipe.
    side_by_side: bool = False
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

    def floor(self, protocol: int) -> int:
        """The smallest chunk (but the last) an upload speaking ``protocol`` may send."""
        return max(self.min_chunk, V2_MIN_CHUNK) if protocol == 2 else self.min_chunk


class Window(Protocol):
    """What the planner asks of the link (``LinkModel``)."""

    def window(self) -> float | None:
        """Bytes of one chunk crossing the link at a time; None: no limit known."""
        ...

    def carries(self, nbytes: int) -> bool:
        """True when a chunk of ``nbytes`` is expected to get through between drops."""
        ...


class ChunkSizer:
    """Chooses the next chunk's size from the speed measured on the previous ones."""

    def __init__(self, tuning: Tuning, *, start: int | None = None, floor: int | None = None):
        self.tuning = tuning
        self._floor = tuning.min_chunk if floor is None else floor
        self._size = self._clamp(start if start else tuning.initial_chunk)

    def _clamp(self, size: float) -> int:
        t = self.tuning
        return max(self._floor, min(max(t.max_chunk, self._floor), int(size)))

    @property
    def size(self) -> int:
        """The size the next chunk will have (before trimming to what is left of the file)."""
        return self._size

    def next_size(self, offset: int, total: int, chunk_number: int) -> int:
        """Bytes for the chunk starting at ``offset``; never leaves more chunks than allowed."""
        return fit(self._size, offset, total, chunk_number, self.tuning.max_chunks, self._floor)

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
        self._size = self._clamp(wanted)


def fit(size: int, offset: int, total: int, number: int, max_chunks: int, floor: int) -> int:
    """``size`` trimmed for the chunk ``number`` starting at ``offset`` of ``total`` bytes.

    It grows when the chunk numbers left could not hold the rest of the file otherwise, and
    takes in a tail that would be smaller than ``floor``; never beyond the end of the file.
    """
    left = total - offset
    chunks_left = max_chunks - number + 1
    if chunks_left > 0 and left > size * chunks_left:
        size = -(-left // chunks_left)  # ceil: fit what is left into the numbers left
    if 0 < left - size < floor:
        size = left  # do not leave a tail below the floor: fold it into this chunk
    return max(0, min(size, left))


@dataclass(frozen=True)
class Plan:
    """The next chunk's size, how many chunks may be in flight together, and whether their
    bodies go one after the other (``stagger``: a link that drops) or side by side."""

    size: int
    in_flight: int
    stagger: bool = False


class ChunkPlanner:
    """Sizes chunks of one upload from the time target and the link's window (module doc).

    ``parallel`` is what the server allows at once; ``protocol`` the upload's chunking
    version, which sets the floor.
    """

    def __init__(
        self,
        tuning: Tuning,
        *,
        link: Window | None,
        protocol: int,
        parallel: int,
        start: int | None = None,
    ) -> None:
        self.tuning = tuning
        self.link = link if tuning.follow_link else None
        self.floor = tuning.floor(protocol)
        self.parallel = max(1, min(parallel, tuning.max_in_flight))
        self.sizer = ChunkSizer(tuning, start=start, floor=self.floor)

    def plan(self) -> Plan:
        """The size of the next chunk (before fitting it to the file) and the in-flight count.

        While the window holds every chunk in flight at its time-target size, chunks have that
        size, up to ``parallel`` requests in flight (bodies side by side with
        ``side_by_side``, else one after the other). Otherwise the link limits: a chunk is at
        most the window, and bodies go one after the other, two requests in flight (one body
        crossing, the answer of the one before awaited).
        """
        size = self.sizer.size
        window = self.link.window() if self.link is not None else None
        if window is None or window >= self.parallel * size:
            return Plan(size, self.parallel, stagger=not self.tuning.side_by_side)
        size = max(self.floor, min(size, int(window)))
        return Plan(size, min(self.parallel, 2), stagger=True)

    def next_size(self, offset: int, total: int, number: int) -> int:
        """Bytes of chunk ``number`` starting at ``offset`` (fitted to what is left)."""
        size = self.plan().size
        return fit(size, offset, total, number, self.tuning.max_chunks, self.floor)

    def observe(self, nbytes: int, seconds: float) -> None:
        """A chunk of ``nbytes`` took ``seconds``: adapt toward the time target."""
        self.sizer.observe(nbytes, seconds)


def preferred_protocol(tuning: Tuning, link: Window | None) -> int:
    """The chunking version a new upload should speak: 2 unless its chunks must be below v2's
    floor (the link does not carry 5 MiB chunks between drops, or the tuning is smaller)."""
    if tuning.min_chunk >= V2_MIN_CHUNK:
        return 2
    if tuning.max_chunk < V2_MIN_CHUNK:
        return 1
    if link is not None and tuning.follow_link and not link.carries(V2_MIN_CHUNK):
        return 1
    return 2
