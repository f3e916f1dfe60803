"""Human-readable sizes, speeds, dates and the passphrase strength hint (pure functions)."""

from __future__ import annotations

import html
import math
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


def _pool_size(passphrase: str) -> int:
    pools = [
        (string.ascii_lowercase, 26),
        (string.ascii_uppercase, 26),
        (string.digits, 10),
        (string.punctuation + " ", 33),
    ]
    size = sum(n for chars, n in pools if any(c in chars for c in passphrase))
    if any(ord(c) > 127 for c in passphrase):
        size += 100
    return size


def strength_hint(passphrase: str) -> tuple[str, str]:
    """A rough hint ``(level, advice)``, level one of 'empty', 'weak', 'fair', 'strong'.

    Only a hint shown while typing: it estimates guessing work from length and character
    variety, discounting repeats. Several random words make the strongest passphrases.
    """
    if not passphrase:
        return "empty", "Choose a passphrase: several random words are easy to remember."
    distinct = len(set(passphrase))
    effective = min(len(passphrase), distinct * 2)
    bits = effective * math.log2(max(_pool_size(passphrase), 2))
    if bits < 45:
        return "weak", "Weak: anyone who takes this computer could guess it. Make it longer."
    if bits < 70:
        return "fair", "Fair: adding another word or two would make it much stronger."
    return "strong", "Strong."
