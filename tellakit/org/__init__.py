"""The organization's side of sealed submissions: its key, and pulling reports home.

``keygen`` writes the organization's age identity (passphrase-protected by default) and returns
the recipient to hand to field staff; ``pull`` downloads the report folders it has not pulled
before, decrypts and verifies every file against the report's manifest, and writes each report
to ``DEST/<date> <title>/`` only once all of it verified. ``tellakit org keygen`` and
``tellakit org pull`` are the same from a terminal.
"""

from __future__ import annotations

from tellakit.org.identity import keygen, load_identities
from tellakit.org.pull import COLUMNS, FAILED, VERIFIED, WAITING, PulledReport, pull, pull_with

__all__ = [
    "COLUMNS",
    "FAILED",
    "VERIFIED",
    "WAITING",
    "PulledReport",
    "keygen",
    "load_identities",
    "pull",
    "pull_with",
]
