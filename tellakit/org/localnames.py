"""Names of pulled reports and their files on the organization's disk.

Titles and original names come from the report's manifest, which whoever submitted the report
wrote: each becomes one path segment that Windows, macOS and Linux accept (the characters
Windows refuses become ``_``, reserved device names get a ``_``, at most 200 bytes of UTF-8),
no name starts with a dot, and clashes are numbered, ignoring case: ``IMG (2).jpg``,
``2026-12-02 Fire (2)``.
"""

from __future__ import annotations

from collections.abc import Iterable

from tellakit.nextcloud.models import NameRules
from tellakit.nextcloud.names import sanitize_name, unique_candidates

_DEVICES = {"con", "prn", "aux", "nul"} | {f"{p}{n}" for p in ("com", "lpt") for n in range(10)}
#: Windows' rules, the strictest of the three systems, within a byte limit that leaves room
#: for the destination path.
LOCAL_RULES = NameRules(
    forbidden_names=frozenset(),
    forbidden_basenames=frozenset(_DEVICES),
    forbidden_characters=frozenset('/\\:*?"<>|'),
    forbidden_extensions=frozenset(),
    max_bytes=200,
)


def unique_local_name(
    name: str, taken: Iterable[str], *, is_file: bool, fallback: str = "file"
) -> str:
    """A safe local name for ``name`` that is not in ``taken`` (compared ignoring case)."""
    used = {t.casefold() for t in taken}
    # No leading dot: hidden in every file manager, and DEST's own work folder starts with one.
    shown = name.lstrip(". ") or fallback
    clean = sanitize_name(shown, LOCAL_RULES, fallback=fallback, keep_extension=is_file)
    for candidate in unique_candidates(clean, LOCAL_RULES, keep_extension=is_file):
        if candidate.casefold() not in used:
            return candidate
    raise ValueError(f"no free name for {name!r}")  # pragma: no cover - 10000 candidates


def local_names(originals: Iterable[str], reserved: Iterable[str]) -> list[str]:
    """One unique local name per original name, in order, avoiding ``reserved``."""
    taken = list(reserved)
    out = []
    for original in originals:
        name = unique_local_name(original, taken, is_file=True)
        taken.append(name)
        out.append(name)
    return out
