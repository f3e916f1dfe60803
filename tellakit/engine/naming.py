"""Names on the server: the report folder and the files inside it.

The server's own rules (capabilities, FilenameValidator) decide what it accepts; on top of them
we strip the characters Tella iOS strips from titles (``/ \\ : " | ? * < >``) so a folder syncs
to Windows and macOS clients too, drop control characters, and never start a name with a dot
(hidden in every sync client). Clashes are resolved as Tella-compatible numbered candidates:
``Title``, ``Title (2)``, ``Title (3)`` ... for folders and ``IMG (2).jpg`` for files. Room for
the suffix is kept inside the 250-byte limit, so every candidate is valid too.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator, Sequence

from tellakit.nextcloud.models import NameRules

# Characters Tella iOS strips from report titles; also the Windows-compatible set.
ALWAYS_STRIPPED = frozenset('/\\:"|?*<>')
DESCRIPTION_NAME = "description.txt"
MANIFEST_NAME = "manifest.json"
RESERVED_IN_FOLDER = (DESCRIPTION_NAME, MANIFEST_NAME)
SUFFIX_ROOM = len(" (10000)")  # bytes kept free for the clash suffix
FOLDER_FALLBACK = "Untitled report"
FILE_FALLBACK = "file"


def _truncate_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` that fits ``max_bytes`` in UTF-8 (never splits a char)."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    return data[:max_bytes].decode("utf-8", errors="ignore")


def split_extension(name: str) -> tuple[str, str]:
    """``("IMG_0001", ".jpg")``; a leading dot or a dot-less name has no extension."""
    dot = name.rfind(".")
    if dot <= 0 or dot == len(name) - 1:
        return name, ""
    ext = name[dot:]
    # A "extension" with spaces or of absurd length is part of the name, not a type.
    if len(ext) > 16 or " " in ext:
        return name, ""
    return name[:dot], ext


def _clean(text: str, rules: NameRules) -> str:
    text = unicodedata.normalize("NFC", text)
    bad = ALWAYS_STRIPPED | rules.forbidden_characters
    out = []
    for ch in text:
        if ch in bad or ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(" ")
            continue
        cat = unicodedata.category(ch)
        # Other line/paragraph separators and format chars (bidi overrides) confuse listings.
        if cat in ("Zl", "Zp", "Cc") or (cat == "Cf" and ch not in "\u200d\ufe0f"):
            out.append(" ")
            continue
        out.append(ch)
    # Collapse runs of whitespace left by the stripping; no leading dots or trailing dots/spaces.
    text = " ".join("".join(out).split())
    text = text.lstrip(". ").rstrip(". ")
    return text


def _basename(name: str) -> str:
    """The part before the first non-leading dot, lowercased (FilenameValidator's "basename")."""
    lowered = name.lower()
    lead = len(lowered) - len(lowered.lstrip("."))
    return lowered[: lead + len(lowered[lead:].split(".", 1)[0])]


def _fix_reserved(stem: str, ext: str, rules: NameRules) -> tuple[str, str]:
    if (stem + ext).lower() in rules.forbidden_names:
        stem += "_"
    if _basename(stem + ext) in rules.forbidden_basenames:
        stem = stem.split(".", 1)[0] + "_" + (stem[len(stem.split(".", 1)[0]) :])
    for bad in rules.forbidden_extensions:
        if bad and (stem + ext).lower().endswith(bad.lower()):
            if ext:
                ext += "_"
            else:
                stem += "_"
    return stem, ext


def sanitize_name(name: str, rules: NameRules, *, is_file: bool) -> str:
    """A name the server accepts and that leaves room for a clash suffix.

    Files keep their extension; empty results become ``Untitled report`` or ``file``.
    """
    fallback = FILE_FALLBACK if is_file else FOLDER_FALLBACK
    cleaned = _clean(name, rules) or fallback
    stem, ext = split_extension(cleaned) if is_file else (cleaned, "")
    ext = _clean(ext, rules)
    ext = "." + ext if ext and not ext.startswith(".") else ext
    room = max(16, rules.max_bytes - SUFFIX_ROOM)
    ext = _truncate_utf8(ext, 16)
    stem = _truncate_utf8(stem, room - len(ext.encode("utf-8"))).rstrip(". ") or fallback
    stem, ext = _fix_reserved(stem, ext, rules)
    result = stem + ext
    problem = name_problem(result, rules)
    if problem is not None:
        return fallback
    return result


def name_problem(name: str, rules: NameRules) -> str | None:
    """Why the server would refuse ``name`` (FilenameValidator's checks), or None."""
    trimmed = name.strip()
    if not trimmed:
        return "empty name"
    if trimmed in (".", ".."):
        return "dot names are not allowed"
    if len(name.encode("utf-8")) > rules.max_bytes:
        return "name too long"
    lowered = name.lower()
    if lowered in rules.forbidden_names:
        return f'"{name}" is a forbidden name'
    if _basename(name) in rules.forbidden_basenames:
        return f'"{_basename(name)}" is a forbidden prefix'
    for ext in rules.forbidden_extensions:
        if ext and lowered.endswith(ext.lower()):
            return f'names must not end with "{ext}"'
    for ch in name:
        if ord(ch) < 0x20 or ch in rules.forbidden_characters or ch in ALWAYS_STRIPPED:
            return f'"{ch!r}" is not allowed in a name'
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
    names: Sequence[str], rules: NameRules, *, taken: Iterable[str] = RESERVED_IN_FOLDER
) -> list[str]:
    """Unique server names for the files of one report, in order.

    Comparison ignores case (two names differing only in case clash on Windows and macOS
    sync clients); ``description.txt`` and ``manifest.json`` are reserved for the report.
    """
    used = {t.casefold() for t in taken}
    out: list[str] = []
    for raw in names:
        clean = sanitize_name(raw, rules, is_file=True)
        for cand in candidates(clean, is_file=True):
            if cand.casefold() not in used:
                used.add(cand.casefold())
                out.append(cand)
                break
    return out


def join_remote(*parts: str) -> str:
    """Join DAV path parts with single slashes (no leading or trailing slash)."""
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))
