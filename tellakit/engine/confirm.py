"""What the transfer layer tells the run: a piece of the report the server has confirmed.

Bytes in flight are lost when a connection is cut; a confirmed piece is not: the next attempt
starts after it. So this, not the byte counter, is what "the attempt made progress" means to
the retry scheduler (a completed chunk or file resets its budget), and what a view can show as
"confirmed on the server". The submission and the file transfer call one typed callback,
``ConfirmedHook``, right after recording each piece in the vault.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


class Piece(str, Enum):
    """The kinds of piece a report is made of, in the order they are sent."""

    DESCRIPTION = "description"  # description.txt
    CHUNK = "chunk"  # one chunk of a chunked upload
    FILE = "file"  # a whole file (a single PUT, the final MOVE, or found there already)
    VERIFIED = "verified"  # the server's size and SHA-256 of a file match the vault's
    MANIFEST = "manifest"  # manifest.json


@dataclass(frozen=True)
class Confirmed:
    """The server confirmed ``piece``; for CHUNK and FILE, ``bytes_confirmed`` of that file
    are on the server now."""

    piece: Piece
    attachment_id: str | None = None
    bytes_confirmed: int = 0


ConfirmedHook = Callable[[Confirmed], None]


def ignore(_confirmed: Confirmed) -> None:
    """The hook of a caller that does not listen."""
