"""File names of vault files: checked before anything is encrypted, safe to show and export.

A name is shown as Unicode. Names read from disk that are not valid UTF-8 (camera cards often
use Latin-1) arrive as ``str`` with surrogate escapes (``os.fsdecode``): they are shown with
U+FFFD in place of the bad bytes, and their original bytes are kept so an export writes the
file back under the very name it had. A NUL (which no file system or server allows) is shown
as U+FFFD too. Names longer than MAX_NAME_BYTES, and text that is not Unicode at all, are
refused before anything is read.
"""

from __future__ import annotations

import os

from tellakit.errors import ImportRefused

#: The longest name accepted, in bytes (a path's worth; exports are cut to EXPORT_NAME_BYTES).
MAX_NAME_BYTES = 4096
#: Exported file names stay below the 255 bytes most file systems allow, with room for the
#: ``.partial`` suffix of the copy being written.
EXPORT_NAME_BYTES = 240
_SUFFIX_BYTES = 16


def _shown(name: str) -> str:
    text = ascii(name)
    return text if len(text) <= 60 else text[:57] + "..."


def checked(name: str) -> tuple[str, bytes | None]:
    """``(name to show and store, original bytes or None)``; ImportRefused if unusable."""
    if not isinstance(name, str):
        raise ImportRefused(f"A file name must be text, not {type(name).__name__}.")
    raw: bytes | None = None
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        try:
            raw = os.fsencode(name)
        except UnicodeEncodeError:
            raise ImportRefused(
                f"The file name {_shown(name)} is not valid Unicode; rename the file first."
            ) from None
        encoded = raw
        name = raw.decode("utf-8", "replace")
    if len(encoded) > MAX_NAME_BYTES:
        raise ImportRefused(
            f"The file name {_shown(name)} is longer than {MAX_NAME_BYTES} bytes; "
            "rename the file first."
        )
    if raw is not None and b"\x00" in raw:
        raw = None  # no file system can hold it: export the shown name instead
    return name.replace("\x00", "\ufffd"), raw


def export_name(name: str, raw: bytes | None, fallback: str) -> str:
    """The last path component of a stored name, usable as a file name on this system: no NUL,
    no separator, at most EXPORT_NAME_BYTES bytes (the extension kept)."""
    data = raw if raw is not None else name.replace("\x00", "\ufffd").encode("utf-8")
    for sep in {b"/", b"\\", os.fsencode(os.sep)}:
        data = data.rsplit(sep, 1)[-1]
    if len(data) > EXPORT_NAME_BYTES:
        stem, dot, suffix = data.rpartition(b".")
        if not dot or len(suffix) > _SUFFIX_BYTES:
            stem, dot, suffix = data, b"", b""
        data = stem[: EXPORT_NAME_BYTES - len(dot) - len(suffix)] + dot + suffix
    if raw is None:  # cut at a character boundary
        data = data.decode("utf-8", "ignore").encode("utf-8")
    text = os.fsdecode(data)
    return fallback if text in ("", ".", "..") else text
