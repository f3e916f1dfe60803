"""Human-readable sizes, speeds, dates and the passphrase strength hint (pure functions)."""

from __future__ import annotations

import html
import string
from datetime import datetime

__all__ = ["esc", "human_date", "human_size", "human_speed", "percent", "strength_hint"]

_UNITS = ("B", "KB", "MB", "GB", "TB")


def esc(text: object) -> str:
    """Escape user text (titles, file names, server messages) for an HTML widget."""
    return html.escape(str(text), quote=True)


def human_size(nbytes: int | float) -> str:
    """``1536`` -> ``'1.5 KB'`` (powers of 1000, as file managers show)."""
    value = float(max(nbytes, 0))
    for unit in _UNITS:
        if value < 1000 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def human_speed(bps: float) -> str:
    """Bytes per second as ``'2.3 MB/s'``; empty when nothing moves."""
    return f"{human_size(bps)}/s" if bps > 0 else ""


def percent(done: int, total: int) -> float:
    """Share of ``total`` done, 0..100 (100 for an empty total)."""
    if total <= 0:
        return 100.0
    return max(0.0, min(100.0, 100.0 * done / total))


def human_date(moment: datetime | None) -> str:
    """A report date in the reader's local time, ``'2026-11-28 16:20'``."""
    if moment is None:
        return ""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def _human_bits(length: int) -> float:
    """Guessing work of a person-chosen string by its length (NIST SP 800-63 v1 rule of thumb):
    4 bits for the first character, 2 for the next seven, 1.5 up to 20, then 1."""
    bits = 0.0
    for position in range(1, length + 1):
        bits += 4.0 if position == 1 else 2.0 if position <= 8 else 1.5 if position <= 20 else 1.0
    return bits


def strength_hint(passphrase: str) -> tuple[str, str]:
    """A rough hint ``(level, advice)``, level one of 'empty', 'weak', 'fair', 'strong'.

    Only a hint shown while typing: it estimates guessing work from the length (repeated
    characters count once or twice) plus a little for mixing letters, digits and symbols.
    Several random words make the strongest passphrases.
    """
    if not passphrase:
        return "empty", "Choose a passphrase: several random words are easy to remember."
    effective = min(len(passphrase), len(set(passphrase)) * 2)
    classes = sum(
        any(c in chars for c in passphrase)
        for chars in (string.ascii_lowercase, string.ascii_uppercase, string.digits)
    ) + any(not c.isalnum() for c in passphrase)
    bits = _human_bits(effective) + (6.0 if classes >= 3 else 0.0)
    if bits < 30:
        return "weak", "Weak: anyone who takes this computer could guess it. Make it longer."
    if bits < 45:
        return "fair", "Fair: adding another word or two would make it much stronger."
    return "strong", "Strong."
