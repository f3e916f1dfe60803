"""File and folder names the server will accept, derived from its own rules.

``sanitize_name`` turns any title or file name into one segment that Nextcloud's
FilenameValidator accepts under the given ``NameRules`` (from capabilities), and that can never
escape the folder it is put in: no ``/`` or ``\\``, never ``.`` or ``..``, never empty, at
most 250 UTF-8 bytes (cut on a character boundary, keeping the extension).
``unique_candidates`` yields "Title", "Title (2)", "Title (3)", ... for MKCOL-based clash
resolution, each candidate within the same limits.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

from tellakit.nextcloud.models import NameRules

FALLBACK = "Untitled"
#: An extension longer than this is treated as part of the name when cutting to length.
_MAX_EXT_BYTES = 16
_DEFAULT_RULES = NameRules()


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _cut_bytes(text: str, limit: int) -> str:
    """The longest prefix of ``text`` within ``limit`` UTF-8 bytes (character boundary)."""
    if limit <= 0:
        return ""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")


def split_extension(name: str) -> tuple[str, str]:
    """("IMG_0001", ".jpg"); a leading dot is part of the stem; long "extensions" are not ones."""
    dot = name.rfind(".")
    if dot <= 0 or dot == len(name) - 1:
        return name, ""
    ext = name[dot:]
    if _utf8_len(ext) > _MAX_EXT_BYTES or " " in ext:
        return name, ""
    return name[:dot], ext


def _replacement(rules: NameRules) -> str:
    return "" if "_" in rules.forbidden_characters else "_"


def _clean_chars(name: str, rules: NameRules, allow_4byte: bool) -> str:
    rep = _replacement(rules)
    forbidden = {c.lower() for c in rules.forbidden_characters} | {"/", "\\"}
    out = []
    for ch in name:
        if ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(" ")  # a newline or tab in a title reads as a space
        elif ch.lower() in forbidden or (not allow_4byte and ord(ch) > 0xFFFF):
            out.append(rep)
        else:
            out.append(ch)
    return "".join(out)


def _basename(name: str) -> str:
    """FilenameValidator's basename: the part before the first dot that is not leading."""
    dot = name.find(".", 1)
    return name if dot == -1 else name[:dot]


def _fix_rules(name: str, rules: NameRules) -> str:
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
                # "x.part" -> "x_part": keep the information, lose the refused suffix
                return name[: -len(ext)] + rep + name[len(name) - len(ext) + 1 :]
            return name[: -len(ext)].rstrip(ext) if name.strip(ext) else ""
    return name


def sanitize_name(
    name: str,
    rules: NameRules | None = None,
    *,
    fallback: str = FALLBACK,
    allow_4byte_utf8: bool = True,
) -> str:
    """Return a single path segment the server accepts, as close to ``name`` as possible.

    Control characters become spaces; forbidden characters (always ``/`` and ``\\``)
    become ``_``; surrounding whitespace is trimmed (inner spacing is kept); forbidden
    names, basenames and extensions are altered minimally; the result is cut to
    ``rules.max_bytes`` (250) UTF-8 bytes on a character boundary, keeping the extension.
    An empty result, ``.`` or ``..`` becomes ``fallback`` (itself sanitized). Set
    ``allow_4byte_utf8=False`` for servers whose database lacks utf8mb4 (emoji are then
    replaced).
    """
    rules = rules or _DEFAULT_RULES
    text = unicodedata.normalize("NFC", name)
    text = _clean_chars(text, rules, allow_4byte_utf8)
    for _ in range(8):
        text = _fit(text.strip(), rules.max_bytes)
        fixed = _fix_rules(text, rules)
        if fixed == text:
            break
        text = fixed
    if text in ("", ".", "..") or not _acceptable(text, rules):
        if fallback == name or fallback == "":
            return FALLBACK
        return sanitize_name(fallback, rules, fallback=FALLBACK, allow_4byte_utf8=allow_4byte_utf8)
    return text


def _fit(name: str, limit: int) -> str:
    if _utf8_len(name) <= limit:
        return name
    stem, ext = split_extension(name)
    room = limit - _utf8_len(ext)
    if room < 1:
        return _cut_bytes(name, limit).rstrip()
    return _cut_bytes(stem, room).rstrip() + ext


def _acceptable(name: str, rules: NameRules) -> bool:
    """The server-side checks, in FilenameValidator's order (used as the final guard)."""
    if name.strip() == "" or name.strip() in (".", ".."):
        return False
    if _utf8_len(name) > rules.max_bytes:
        return False
    lower = name.lower()
    if lower in rules.forbidden_names or _basename(name).lower() in rules.forbidden_basenames:
        return False
    if any(ext and lower.endswith(ext) for ext in rules.forbidden_extensions):
        return False
    forbidden = {c.lower() for c in rules.forbidden_characters} | {"/", "\\"}
    return not any(ord(c) < 0x20 or c.lower() in forbidden for c in name)


def is_acceptable(name: str, rules: NameRules | None = None) -> bool:
    """True when the server's rules would accept ``name`` unchanged."""
    return _acceptable(name, rules or _DEFAULT_RULES)


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
        candidate = sanitize_name(_cut_bytes(stem, room).rstrip() + suffix, rules)
        yield candidate
