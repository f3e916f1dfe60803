"""``SeekableReader``: the file-object plumbing shared by the readers that decrypt or encrypt
on demand (``AgeReader``, ``tellakit.sealed.SealedReader``).

A subclass sets ``size`` and implements ``readinto`` from ``self._pos``; seeking only moves
the position (past the end is allowed, reads there return b""), the work happens on read.
"""

from __future__ import annotations

import io
import os

#: readall() reads in steps of this many bytes (RawIOBase's default would use 8 KiB).
READALL_STEP = 1024 * 1024


class SeekableReader(io.RawIOBase):
    """A read-only, seekable raw stream of ``size`` bytes; subclasses provide ``readinto``."""

    size: int
    _pos: int = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move to ``offset``; past the end is allowed (reads there return b"")."""
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readall(self) -> bytes:
        """Read to the end in 1 MiB steps."""
        parts: list[bytes] = []
        while True:
            data = self.read(READALL_STEP)
            if not data:
                return b"".join(parts)
            parts.append(data)
