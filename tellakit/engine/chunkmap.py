"""The bookkeeping of one chunked upload: which chunks the server confirmed, which are in flight.

With several chunks in flight, chunks complete in any order and a cut or a kill can leave any
subset of those in flight on the server. So the index keeps (``report_files.chunk_map``, JSON):

* ``prefix``: bytes [0, prefix) are on the server, in chunks 1 .. ``next`` - 1, all confirmed;
* ``chunks``: the chunks after it, in number order and back to back from ``prefix``, each
  (number, offset, size, done): done ones were confirmed out of order, the others were in
  flight when last recorded (each is recorded *before* its first byte is sent).

``bytes_sent`` in the index is ``confirmed`` (prefix plus the done chunks): the truth a view
shows. A resume trusts the confirmed chunks, asks the server about the ones that were in
flight (each whole or absent, never partial) and sends again only those that are absent: so a
resume re-sends at most the chunks that were in flight. An absent chunk behind which nothing is
confirmed is forgotten (``drop_tail``), so the next one can take a new size (after a drop, a
smaller one); one with confirmed chunks after it is sent again with its recorded size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass
class Chunk:
    """One chunk of the upload: number (1-based), byte range, and whether it is confirmed."""

    number: int
    offset: int
    size: int
    done: bool = False

    @property
    def end(self) -> int:
        return self.offset + self.size


@dataclass
class ChunkMap:
    """See the module docstring."""

    prefix: int = 0
    next: int = 1
    chunks: list[Chunk] = field(default_factory=list)

    # --- the index's text ------------------------------------------------------------------

    def dumps(self) -> str:
        """The JSON the index keeps."""
        rows = [[c.number, c.offset, c.size, int(c.done)] for c in self.chunks]
        return json.dumps({"prefix": self.prefix, "next": self.next, "chunks": rows})

    @classmethod
    def loads(cls, text: str) -> ChunkMap:
        """Read what :meth:`dumps` wrote; ValueError when it is not that."""
        try:
            data = json.loads(text)
            chunks = [Chunk(int(n), int(o), int(s), bool(d)) for n, o, s, d in data["chunks"]]
            made = cls(int(data["prefix"]), int(data["next"]), chunks)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a chunk map: {exc}") from None
        made._check()
        return made

    def _check(self) -> None:
        offset, number = self.prefix, self.next
        for c in self.chunks:
            if c.number != number or c.offset != offset or c.size <= 0:
                raise ValueError("the chunks of a chunk map must follow each other")
            offset, number = c.end, number + 1

    # --- reading ---------------------------------------------------------------------------

    @property
    def confirmed(self) -> int:
        """Bytes the server confirmed."""
        return self.prefix + sum(c.size for c in self.chunks if c.done)

    @property
    def frontier(self) -> tuple[int, int]:
        """(offset, number) of the first chunk not yet planned."""
        if self.chunks:
            last = self.chunks[-1]
            return last.end, last.number + 1
        return self.prefix, self.next

    def unconfirmed(self) -> list[Chunk]:
        """Planned chunks not confirmed (in flight, or to be sent again), in number order."""
        return [c for c in self.chunks if not c.done]

    # --- changing --------------------------------------------------------------------------

    def add(self, size: int) -> Chunk:
        """Plan the next chunk at the frontier (record the map before sending it)."""
        offset, number = self.frontier
        chunk = Chunk(number, offset, size)
        self.chunks.append(chunk)
        return chunk

    def confirm(self, number: int) -> None:
        """The server confirmed chunk ``number``; leading confirmed chunks join the prefix."""
        for c in self.chunks:
            if c.number == number:
                c.done = True
        while self.chunks and self.chunks[0].done:
            first = self.chunks.pop(0)
            self.prefix, self.next = first.end, first.number + 1

    def drop_tail(self) -> list[Chunk]:
        """Forget the unconfirmed chunks after the last confirmed one; returns them."""
        dropped: list[Chunk] = []
        while self.chunks and not self.chunks[-1].done:
            dropped.insert(0, self.chunks.pop())
        return dropped
