"""The SHA-256 of a chunked upload, computed while its chunks arrive, also out of order.

A MOVE with ``X-Hash: sha256`` must answer the hash of the assembled file. Hashing it at the
MOVE costs a full read of the upload while the client waits; so the hash of the upload's
first chunks, in natural order, is kept per upload and extended as chunks arrive:

- a chunk that starts when it is the next in order (nothing received, being received or
  waiting sorts before it) is hashed on the way in, by the thread that receives it;
- a chunk that completes before those sorting before it (parallel chunk PUTs) waits; when
  the chunks before it have been hashed, the thread that completed the last of them reads it
  back (from the page cache) and hashes it, before answering;
- "next" is the next number for chunking v2 (chunks 1 to 10000: a chunk after a gap waits
  for the gap to fill), the next name in natural order for v1 (whose names may leave gaps);
- a chunk that sorts before one already hashed (re-sent, or out of order past repair) breaks
  the run: that upload is hashed at assembly, as after a server restart.

``hashed()`` answers only when the chunks on disk are exactly those hashed (names, sizes,
modification times), so the answer is the same as hashing at assembly, only earlier.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tellakit.devserver.hashing import feed_file

ChunkKey = tuple[str, int, int]  # (name, size, st_mtime_ns) of a chunk file


def natural_key(name: str) -> list[object]:
    """Sort key of PHP's strnatcmp (numbers compared as numbers)."""
    return [(0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", name) if p]


def chunk_key(path: Path) -> ChunkKey:
    st = path.stat()
    return (path.name, st.st_size, st.st_mtime_ns)


@dataclass
class _Run:
    """One upload's hashed prefix and the chunks around it."""

    chunks: list[ChunkKey] = field(default_factory=list)  # hashed, in natural order
    sha256: Any = field(default_factory=lambda: hashlib.sha256())
    #: name -> the version its inline hash started from (None: not hashed on the way in)
    receiving: dict[str, int | None] = field(default_factory=dict)
    version: int = 0  # chunks appended so far: a hash copied at another version is stale
    waiting: dict[str, ChunkKey] = field(default_factory=dict)  # complete, not hashed yet
    numbered: bool = False  # v2: chunks 1, 2, 3...: only the very next number follows
    catching_up: bool = False  # a thread is hashing waiting chunks
    look_again: bool = False  # a chunk completed while it did

    def append(self, chunk: ChunkKey, digest: Any) -> None:
        self.chunks.append(chunk)
        self.sha256 = digest
        self.version += 1

    def after_last(self, name: str) -> bool:
        return not self.chunks or natural_key(self.chunks[-1][0]) < natural_key(name)

    def is_next(self, name: str) -> bool:
        """Whether ``name`` may follow the hashed prefix now (v1 names may leave gaps)."""
        if not self.numbered:
            return self.after_last(name)
        last = int(self.chunks[-1][0]) if self.chunks else 0
        return name.isdigit() and int(name) == last + 1

    def first_pending(self) -> str | None:
        """The first (natural order) chunk received or being received but not hashed."""
        names = [*self.receiving, *self.waiting]
        return min(names, key=natural_key) if names else None

    def comes_next(self, name: str) -> bool:
        """Whether ``name`` sorts before every other pending chunk and may follow the prefix."""
        first = self.first_pending()
        before = first is None or natural_key(name) < natural_key(first)
        return before and self.is_next(name)


class ArrivalHashes:
    """The running SHA-256 of every upload of one server (thread-safe)."""

    def __init__(self) -> None:
        self._runs: dict[tuple[str, str], _Run | None] = {}  # None: the run is broken
        self._lock = threading.Lock()

    def begin(self, uid: str, folder: Path, name: str, *, numbered: bool = False) -> Any:
        """A chunk PUT of ``name`` starts: a copy of the hash to feed with its body when it is
        the next in order, else None (then :meth:`end` catches up later, if it can).

        ``numbered``: the upload follows chunking v2 (chunks 1 to 10000), so a chunk follows
        the prefix only when its number is the next one, also when chunks after a gap came
        first (parallel PUTs); v1 names follow in natural order, gaps allowed.
        """
        key = (uid, folder.name)
        with self._lock:
            if key not in self._runs:
                # Not seen since the server started: only an empty folder starts a run.
                fresh = not any(c.is_file() for c in folder.iterdir())
                self._runs[key] = _Run(numbered=numbered) if fresh else None
            run = self._runs[key]
            if run is None:
                return None
            if name in run.receiving or name in run.waiting or (folder / name).exists():
                self._runs[key] = None  # a chunk sent again: hashed at assembly
                return None
            if not run.after_last(name):
                self._runs[key] = None
                return None
            inline = run.comes_next(name)
            run.receiving[name] = run.version if inline else None
            return run.sha256.copy() if inline else None

    def end(self, uid: str, folder: Path, name: str, digest: Any, complete: bool) -> None:
        """The PUT of ``name`` ended (``complete``: its chunk file is in place); ``digest`` is
        what :meth:`begin` returned, fed with the whole body. Then catch up, if it is due."""
        key = (uid, folder.name)
        with self._lock:
            run = self._runs.get(key)
            if run is None:
                return
            started = run.receiving.pop(name, None)
            if not complete:
                return
            try:
                chunk = chunk_key(folder / name)
            except OSError:
                self._runs[key] = None
                return
            if not run.after_last(name):
                self._runs[key] = None
                return
            if started == run.version and digest is not None and run.comes_next(name):
                run.append(chunk, digest)
            else:  # not hashed on the way in, or from a prefix that has grown since
                run.waiting[name] = chunk
        self._catch_up(key, folder)

    def _catch_up(self, key: tuple[str, str], folder: Path) -> None:
        """Hash waiting chunks that are now next in order (one thread per upload at a time;
        a chunk completing meanwhile makes that thread look again)."""
        with self._lock:
            run = self._runs.get(key)
            if run is None:
                return
            if run.catching_up:
                run.look_again = True
                return
            run.catching_up = True
        while True:
            try:
                self._hash_waiting(key, folder, run)
            finally:
                with self._lock:
                    again, run.look_again = run.look_again, False
                    run.catching_up = again and self._runs.get(key) is run
            if not run.catching_up:
                return

    def _hash_waiting(self, key: tuple[str, str], folder: Path, run: _Run) -> None:
        while True:
            with self._lock:
                if self._runs.get(key) is not run:
                    return
                name = run.first_pending()
                if name is None or name not in run.waiting or not run.is_next(name):
                    return
                chunk = run.waiting[name]
                digest = run.sha256.copy()
                version = run.version
            if not _hash_file(folder / name, chunk, digest):
                with self._lock:
                    if self._runs.get(key) is run:
                        self._runs[key] = None
                return
            with self._lock:
                if self._runs.get(key) is not run or run.waiting.get(name) != chunk:
                    return
                if run.version != version:
                    continue  # another chunk came first meanwhile: look again
                del run.waiting[name]
                run.append(chunk, digest)

    def hashed(self, uid: str, folder: Path, chunks: list[Path]) -> str | None:
        """The hex SHA-256 of ``chunks`` if they are exactly the ones hashed on arrival."""
        with self._lock:
            run = self._runs.get((uid, folder.name))
            if run is None or run.chunks != [chunk_key(c) for c in chunks]:
                return None
            return str(run.sha256.hexdigest())

    def forget(self, uid: str, folder: Path) -> None:
        with self._lock:
            self._runs.pop((uid, folder.name), None)


def _hash_file(path: Path, chunk: ChunkKey, digest: Any) -> bool:
    """Feed ``digest`` with the file at ``path``; False if it is no longer ``chunk``."""
    try:
        with open(path, "rb", buffering=0) as src:
            if chunk_key(path) != chunk:
                return False
            feed_file(src, [digest])
            return chunk_key(path) == chunk
    except OSError:
        return False
