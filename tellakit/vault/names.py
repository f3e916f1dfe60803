"""File names of vault files: checked before anything is encrypted, safe to show and export.

A name is shown as Unicode. Names read from disk that are not valid UTF-8 (camera cards often
use Latin-1) arrive as ``str`` with surrogate escapes (``os.fsdecode``): they are shown with
U+FFFD in place of the bad bytes, and their original bytes are kept so an export writes the
file back under the very name it had.
"""

from __future__ import annotations

import os

from tellakit.errors import ImportRefused

#: The longest name accepted, in bytes (what most file systems and Nextcloud allow).
MAX_NAME_BYTES = 255


def _shown(name: str) -> str:
    text = ascii(name)
    return text if len(text) <= 60 else text[:57] + "..."


def checked(name: str) -> tuple[str, bytes | None]:
    """``(name to show and store, original bytes or None)``; ImportRefused if unusable."""
    if not isinstance(name, str):
        raise ImportRefused(f"A file name must be text, not {type(name).__name__}.")
    if "\x00" in name:
        raise ImportRefused(
            f"The file name {_shown(name)} contains a NUL character; rename the file first."
        )
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
    return name, raw


def export_name(name: str, raw: bytes | None, fallback: str) -> str:
    """The last path component of a stored name, usable as a file name on this system."""
    text = os.fsdecode(raw) if raw is not None else name
    text = text.replace("\x00", "_")
    for sep in {"/", "\\", os.sep}:
        text = text.rsplit(sep, 1)[-1]
    return fallback if text in ("", ".", "..") else text
