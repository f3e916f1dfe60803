"""File and folder names the server will accept: Nextcloud's FilenameValidator rules, in one place.

``name_problem`` says why the server would refuse a name (the validator's checks, in its order);
``is_acceptable`` is its yes/no form. ``sanitize_name`` turns any title or file name into one
segment the server accepts under the given ``NameRules`` (from capabilities), and that can never
escape the folder it is put in: no ``/`` or ``\\``, never ``.`` or ``..``, never empty, at most
250 UTF-8 bytes (cut on a character boundary, keeping the extension). Its keyword options carry
a caller's policy (the engine's Tella-compatible names build on them). ``unique_candidates``
yields "Title", "Title (2)", "Title (3)", ... for MKCOL-based clash resolution, each candidate
within the same limits. ``split_extension``, ``cut_utf8`` and ``clean_characters`` are the
pieces, public for such policies.

A server whose database lacks utf8mb4 (MySQL's 3-byte "utf8") refuses names with 4-byte UTF-8
(emoji) with a 400 that looks like any other invalid character; ``refuses_4byte_utf8`` tells
that refusal apart, ``without_4byte_utf8`` gives the name to use instead.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from typing import Any

from tellakit.errors import NameRejected
from tellakit.nextcloud.models import NameRules

FALLBACK = "Untitled"
#: An extension longer than this is treated as part of the name when cutting to length.
_MAX_EXT_BYTES = 16
_DEFAULT_RULES = NameRules()


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def cut_utf8(text: str, limit: int) -> str:
    """The longest prefix of ``text`` within ``limit`` UTF-8 bytes (never splits a character)."""
    if limit <= 0:
        return ""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")


def split_extension(name: str) -> tuple[str, str]:
    """("IMG_0001", ".jpg"); a leading dot is part of the stem; long "extensions" are not ones.

    An extension is the part from the last dot, at most 16 bytes of UTF-8 and without spaces
    (otherwise it is part of the name, not a type); a dot-less name or one ending in a dot has
    none.
    """
    dot = name.rfind(".")
    if dot <= 0 or dot == len(name) - 1:
        return name, ""
    ext = name[dot:]
    if _utf8_len(ext) > _MAX_EXT_BYTES or " " in ext:
        return name, ""
    return name[:dot], ext


def _basename(name: str) -> str:
    """FilenameValidator's basename: the part before the first dot that is not leading."""
    dot = name.find(".", 1)
    return name if dot == -1 else name[:dot]


def _forbidden_characters(rules: NameRules) -> set[str]:
    # "/" and "\" always: a name is one path segment whatever the capabilities say.
    return {c.lower() for c in rules.forbidden_characters} | {"/", "\\"}


def _replacement(rules: NameRules) -> str:
    return "" if "_" in rules.forbidden_characters else "_"


def name_problem(name: str, rules: NameRules | None = None) -> str | None:
    """Why the server would refuse ``name`` (FilenameValidator's checks, in order), or None.

    Empty or dot names, more than ``rules.max_bytes`` UTF-8 bytes, a forbidden name, basename
    (the part before the first non-leading dot) or ending, a control character (0x00-0x1F) or
    a forbidden character (always ``/`` and ``\\``). Comparisons ignore case, as on the server.
    """
    rules = rules or _DEFAULT_RULES
    trimmed = name.strip()
    if not trimmed:
        return "empty name"
    if trimmed in (".", ".."):
        return "dot names are not allowed"
    if _utf8_len(name) > rules.max_bytes:
        return f"name longer than {rules.max_bytes} bytes"
    lower = name.lower()
    if lower in rules.forbidden_names:
        return f'"{name}" is a forbidden file or folder name'
    base = _basename(lower)
    if base in rules.forbidden_basenames:
        return f'"{base}" is a forbidden prefix for file or folder names'
    for ext in sorted(rules.forbidden_extensions):
        if ext and lower.endswith(ext.lower()):
            if ext.startswith(".") and len(ext) > 1:
                return f'"{ext}" is a forbidden file type'
            return f'names must not end with "{ext}"'
    forbidden = _forbidden_characters(rules)
    for ch in name:
        if ord(ch) < 0x20 or ch.lower() in forbidden:
            return f"{ch!r} is not allowed inside a file or folder name"
    return None


def is_acceptable(name: str, rules: NameRules | None = None) -> bool:
    """True when the server's rules would accept ``name`` unchanged."""
    return name_problem(name, rules) is None


def clean_characters(
    name: str,
    rules: NameRules | None = None,
    *,
    extra: Iterable[str] = (),
    replacement: str | None = None,
    allow_4byte_utf8: bool = True,
) -> str:
    """``name`` with every character the server refuses replaced.

    Control characters (0x00-0x1F, 0x7F) become spaces (a newline or tab in a title reads as
    one); forbidden characters (always ``/`` and ``\\``), and the caller's ``extra`` ones,
    become ``replacement`` (default ``_``, or nothing when the server forbids ``_``). With
    ``allow_4byte_utf8=False`` characters beyond the BMP (emoji) are replaced too.
    """
    rules = rules or _DEFAULT_RULES
    rep = _replacement(rules) if replacement is None else replacement
    forbidden = _forbidden_characters(rules) | {c.lower() for c in extra}
    out = []
    for ch in name:
        if ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(" ")
        elif ch.lower() in forbidden or (not allow_4byte_utf8 and ord(ch) > 0xFFFF):
            out.append(rep)
        else:
            out.append(ch)
    return "".join(out)


def _fix_rules(name: str, rules: NameRules, mark_at_end: bool) -> str:
    """Apply name, basename and extension rules once; the caller loops until stable."""
    rep = _replacement(rules) or "-"
    lower = name.lower()
    if lower in rules.forbidden_names:
        return name + rep
    base = _basename(name)
    if base.lower() in rules.forbidden_basenames:
        return base + rep + name[len(base) :]
    for ext in sorted(rules.forbidden_extensions, key=len, reverse=True):
        if ext and lower.endswith(ext):
            if ext.startswith(".") and len(ext) > 1:
                if mark_at_end:
                    return name + rep  # "x.part" -> "x.part_"
                # "x.part" -> "x_part": keep the information, lose the refused suffix
                return name[: -len(ext)] + rep + name[len(name) - len(ext) + 1 :]
            return name[: -len(ext)].rstrip(ext) if name.strip(ext) else ""
    return name


def _cut_clean(text: str, limit: int) -> str:
    """``cut_utf8`` without white space or dots left at the cut (Windows drops trailing ones)."""
    text = cut_utf8(text, limit)
    while text and (text[-1].isspace() or text[-1] == "."):
        text = text[:-1]
    return text


def _fit(name: str, limit: int, keep_extension: bool) -> str:
    """Cut ``name`` to ``limit`` bytes, before its extension unless told otherwise."""
    if _utf8_len(name) <= limit:
        return name
    stem, ext = split_extension(name) if keep_extension else (name, "")
    room = limit - _utf8_len(ext)
    if room < 1:
        return _cut_clean(name, limit)
    return _cut_clean(stem, room) + ext


def sanitize_name(
    name: str,
    rules: NameRules | None = None,
    *,
    fallback: str = FALLBACK,
    allow_4byte_utf8: bool = True,
    reserve_bytes: int = 0,
    keep_extension: bool = True,
    mark_at_end: bool = False,
) -> str:
    """Return a single path segment the server accepts, as close to ``name`` as possible.

    Characters are cleaned as by ``clean_characters``; surrounding whitespace is trimmed
    (inner spacing is kept); forbidden names, basenames and extensions are altered minimally
    (``con`` -> ``con_``, ``CON.txt`` -> ``CON_.txt``, ``x.part`` -> ``x_part``, or
    ``x.part_`` with ``mark_at_end``; a forbidden ending such as a trailing space or dot is
    dropped); the result is cut on a character boundary to ``rules.max_bytes`` (250) UTF-8
    bytes less ``reserve_bytes`` (room a caller keeps for a suffix), before the extension
    unless ``keep_extension`` is False (for folder titles). An empty result, ``.`` or ``..``
    becomes ``fallback`` (itself sanitized). Set ``allow_4byte_utf8=False`` for servers whose
    database lacks utf8mb4 (emoji are then replaced).
    """
    rules = rules or _DEFAULT_RULES
    limit = max(min(_MAX_EXT_BYTES, rules.max_bytes), rules.max_bytes - reserve_bytes)
    text = unicodedata.normalize("NFC", name)
    text = clean_characters(text, rules, allow_4byte_utf8=allow_4byte_utf8)
    for _ in range(8):
        text = _fit(text.strip(), limit, keep_extension)
        fixed = _fix_rules(text, rules, mark_at_end)
        if fixed == text:
            break
        text = fixed
    if text in ("", ".", "..") or name_problem(text, rules) is not None:
        if fallback == name or fallback == "":
            return FALLBACK
        return sanitize_name(
            fallback,
            rules,
            fallback=FALLBACK,
            allow_4byte_utf8=allow_4byte_utf8,
            reserve_bytes=reserve_bytes,
            keep_extension=keep_extension,
            mark_at_end=mark_at_end,
        )
    return text


def unique_candidates(
    name: str,
    rules: NameRules | None = None,
    *,
    keep_extension: bool = False,
    limit: int = 10000,
) -> Iterator[str]:
    """Yield ``name``, ``name (2)``, ``name (3)``, ... (sanitized, each within the byte limit).

    With ``keep_extension`` the number goes before the extension: ``IMG (2).jpg`` (for files;
    folders use the default, so "Report v1.2" becomes "Report v1.2 (2)").
    """
    rules = rules or _DEFAULT_RULES
    first = sanitize_name(name, rules)
    yield first
    stem, ext = split_extension(first) if keep_extension else (first, "")
    for n in range(2, limit + 1):
        suffix = f" ({n}){ext}"
        room = rules.max_bytes - _utf8_len(suffix)
        candidate = sanitize_name(cut_utf8(stem, room).rstrip() + suffix, rules)
        yield candidate


def has_4byte_utf8(name: str) -> bool:
    """True when ``name`` holds a character outside the BMP (4 bytes in UTF-8: emoji ...)."""
    return any(ord(ch) > 0xFFFF for ch in name)


def refuses_4byte_utf8(error: BaseException, name: str) -> bool:
    """True when ``error`` is the server refusing ``name`` for its 4-byte UTF-8 characters.

    Nextcloud on MySQL without utf8mb4 answers such a name with 400 ``InvalidPath`` and the
    message of a character it cannot store ("Filename contains at least one invalid
    character"; "File name contains ..." before Nextcloud 30), checked before the other
    rules (FilenameValidator, View::verifyPath). A control character gets the same message,
    but ``without_4byte_utf8`` replaces those as well, so the fallback fits either way.
    """
    if not isinstance(error, NameRejected) or error.status != 400:
        return False
    if not has_4byte_utf8(name):
        return False
    reason = str(getattr(error, "reason", "") or error).lower()
    return "invalid character" in reason


def without_4byte_utf8(name: str, rules: NameRules | None = None, **options: Any) -> str:
    """The fallback name for a server without utf8mb4: ``name`` sanitized with every 4-byte
    character replaced (``sanitize_name(..., allow_4byte_utf8=False)``; ``options`` go to it,
    e.g. ``reserve_bytes`` or ``keep_extension``)."""
    return sanitize_name(name, rules, allow_4byte_utf8=False, **options)
