"""Names on the server: the report folder and the files inside it (tellakit's Tella policy).

The server's own rules (capabilities, FilenameValidator) live in ``tellakit.nextcloud.names``;
this module only adds tellakit's policy on top of them. We strip the characters Tella iOS strips
from titles (``/ \\ : " | ? * < >``) so a folder syncs to Windows and macOS clients too, drop
control and invisible format characters, collapse white space, and never start a name with a
dot (hidden in every sync client). Clashes are resolved as Tella-compatible numbered
candidates: ``Title``, ``Title (2)``, ``Title (3)`` ... for folders and ``IMG (2).jpg`` for
files, compared ignoring case, with ``description.txt`` and ``manifest.json`` reserved. Room for
the suffix is kept inside the 250-byte limit, so every candidate is valid too.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator, Sequence

from tellakit.nextcloud import names as server
from tellakit.nextcloud.models import NameRules
from tellakit.nextcloud.names import split_extension

# Characters Tella iOS strips from report titles; also the Windows-compatible set.
ALWAYS_STRIPPED = frozenset('/\\:"|?*<>')
DESCRIPTION_NAME = "description.txt"
MANIFEST_NAME = "manifest.json"
RESERVED_IN_FOLDER = (DESCRIPTION_NAME, MANIFEST_NAME)
SUFFIX_ROOM = len(" (10000)")  # bytes kept free for the clash suffix
FOLDER_FALLBACK = "Untitled report"
FILE_FALLBACK = "file"
# Joiners that make one emoji of several; every other format character is dropped.
_KEPT_FORMAT = "\u200d\ufe0f"


def _invisible(ch: str) -> bool:
    """C1 controls, line/paragraph separators and format characters (bidi overrides)."""
    cat = unicodedata.category(ch)
    return cat in ("Zl", "Zp", "Cc") or (cat == "Cf" and ch not in _KEPT_FORMAT)


def _clean(text: str, rules: NameRules, *, allow_4byte_utf8: bool = True) -> str:
    """Tella's character policy: what the server or Tella refuses, or listings hide, is a space.

    Then runs of white space collapse to one space; no leading dots (hidden files) and no
    trailing dots or spaces (Windows drops them).
    """
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if _invisible(ch) else ch for ch in text)
    text = server.clean_characters(
        text, rules, extra=ALWAYS_STRIPPED, replacement=" ", allow_4byte_utf8=allow_4byte_utf8
    )
    return " ".join(text.split()).strip(". ")


def sanitize_name(
    name: str, rules: NameRules, *, is_file: bool, allow_4byte_utf8: bool = True
) -> str:
    """A name the server accepts and that leaves room for a clash suffix.

    Files keep their extension; empty results become ``Untitled report`` or ``file``; a
    forbidden name, basename or extension gets an underscore (``con_``, ``video.part_``).
    ``allow_4byte_utf8=False`` replaces emoji (for a server without utf8mb4).
    """
    fallback = FILE_FALLBACK if is_file else FOLDER_FALLBACK
    text = _clean(name, rules, allow_4byte_utf8=allow_4byte_utf8)
    if is_file:
        # "IMG .jpg" -> "IMG.jpg": no dot or space before the extension either.
        stem, ext = split_extension(text)
        text = stem.rstrip(". ") + ext
    return server.sanitize_name(
        text or fallback,
        rules,
        fallback=fallback,
        allow_4byte_utf8=allow_4byte_utf8,
        reserve_bytes=SUFFIX_ROOM,
        keep_extension=is_file,
        mark_at_end=True,
    )


def name_problem(name: str, rules: NameRules) -> str | None:
    """Why ``name`` is refused: by the server's rules, or for a character Tella strips."""
    problem = server.name_problem(name, rules)
    if problem is not None:
        return problem
    for ch in name:
        if ch in ALWAYS_STRIPPED:
            return f"{ch!r} is not allowed in a name (Tella and Windows sync clients refuse it)"
    return None


def candidates(name: str, *, is_file: bool) -> Iterator[str]:
    """``name``, then ``name (2)``, ``name (3)`` ... (for files, before the extension)."""
    stem, ext = split_extension(name) if is_file else (name, "")
    yield name
    n = 2
    while True:
        yield f"{stem} ({n}){ext}"
        n += 1


def assign_file_names(
    names: Sequence[str],
    rules: NameRules,
    *,
    taken: Iterable[str] = RESERVED_IN_FOLDER,
    allow_4byte_utf8: bool = True,
) -> list[str]:
    """Unique server names for the files of one report, in order.

    Comparison ignores case (two names differing only in case clash on Windows and macOS
    sync clients); ``description.txt`` and ``manifest.json`` are reserved for the report.
    """
    used = {t.casefold() for t in taken}
    out: list[str] = []
    for raw in names:
        clean = sanitize_name(raw, rules, is_file=True, allow_4byte_utf8=allow_4byte_utf8)
        for cand in candidates(clean, is_file=True):
            if cand.casefold() not in used:
                used.add(cand.casefold())
                out.append(cand)
                break
    return out


def join_remote(*parts: str) -> str:
    """Join DAV path parts with single slashes (no leading or trailing slash)."""
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))
