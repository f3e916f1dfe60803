"""Names in a report folder on the server, for both layouts (docs/server-layout.md).

Readable (Tella's, the default): the folder is named after the title, the files keep their
names, ``description.txt`` and ``manifest.json`` in clear.

Sealed (when the connection has ``encrypt_to``): every file is an age file and no name says
anything about the report::

    2026-12-02 1432 3f9a/        UTC date and minute the folder was made, 4 random hex digits
      1.age, 2.age, ...          the attachments, in the report's order
      description.txt.age
      manifest.json.age          written last; maps the numbers back to the original names

With ``readable_names`` the folder keeps Tella's name (the title) and the files inside are
sealed and numbered as above.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from enum import Enum

AGE_SUFFIX = ".age"
READABLE_DESCRIPTION = "description.txt"
READABLE_MANIFEST = "manifest.json"
SEALED_DESCRIPTION = READABLE_DESCRIPTION + AGE_SUFFIX
SEALED_MANIFEST = READABLE_MANIFEST + AGE_SUFFIX
SUFFIX_DIGITS = 4
#: ``YYYY-MM-DD HHMM xxxx``: the sealed folder name (see ``sealed_folder_name``).
SEALED_FOLDER_RE = re.compile(r"\d{4}-\d{2}-\d{2} \d{4} [0-9a-f]{4}")
_ATTACHMENT_RE = re.compile(r"[1-9][0-9]*\.age")


class Layout(str, Enum):
    """How a report folder on the server is written."""

    READABLE = "readable"
    SEALED = "sealed"

    def __str__(self) -> str:
        return self.value


def attachment_name(number: int) -> str:
    """The sealed name of the ``number``-th attachment (1-based, in the report's order)."""
    if number < 1:
        raise ValueError("attachments are numbered from 1")
    return f"{number}{AGE_SUFFIX}"


def attachment_number(name: str) -> int | None:
    """The number in a sealed attachment name (``"2.age"`` -> 2), else None."""
    return int(name[: -len(AGE_SUFFIX)]) if _ATTACHMENT_RE.fullmatch(name) else None


def sealed_folder_name(when: datetime, suffix: str | None = None) -> str:
    """``YYYY-MM-DD HHMM xxxx`` for ``when`` in UTC, with a random (or the given) suffix.

    UTC, so the name reveals no time zone; the minute is what the server's own folder time
    shows anyway. The suffix keeps two reports of the same minute apart.
    """
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    suffix = secrets.token_hex(SUFFIX_DIGITS // 2) if suffix is None else suffix
    if not re.fullmatch(r"[0-9a-f]{4}", suffix):
        raise ValueError("a sealed folder suffix is 4 lowercase hex digits")
    return f"{when.astimezone(timezone.utc):%Y-%m-%d %H%M} {suffix}"


def sealed_folder_candidates(when: datetime) -> Iterator[str]:
    """Names to try with MKCOL, in order: a taken one (405) is followed by a fresh suffix.

    Endless; the caller records each candidate before its MKCOL, as for readable names.
    """
    while True:
        yield sealed_folder_name(when)


def is_sealed_folder_name(name: str) -> bool:
    """True for a name ``sealed_folder_name`` could have made."""
    return SEALED_FOLDER_RE.fullmatch(name) is not None


def layout_of(names: Iterable[str]) -> Layout | None:
    """The layout of a folder from the names it holds, by its manifest; None without one.

    A folder without a manifest is still being written, or was written by Tella or with the
    manifest turned off: nothing in it can be checked.
    """
    present = set(names)
    if SEALED_MANIFEST in present:
        return Layout.SEALED
    if READABLE_MANIFEST in present:
        return Layout.READABLE
    return None
