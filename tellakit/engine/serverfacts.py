"""What a Submitter remembers about its server between runs: two requests fewer per report.

Every run of a report used to ask for the server's capabilities and MKCOL the root folder
(each answered the same for every report of a batch). Now one ``ServerFacts`` per Submitter
keeps the capabilities for a few minutes and notes that the root folder exists, per account
(server address and user id), so a batch of small reports spends its requests on the reports.
A root folder removed meanwhile shows as a 409 on the report folder's MKCOL; the submission
then creates it again and tells this cache (``root_missing``).

Thread rules: ``_lock`` guards both maps; the capabilities are fetched without it (two workers
may both fetch once, harmlessly).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from tellakit.nextcloud.models import Capabilities

#: How long capabilities are trusted (a server's settings change rarely; a stale answer only
#: costs a fallback, e.g. single PUTs after a refused bulk request).
CAPABILITIES_TTL = 300.0

Account = tuple[str, str]  # (server URL, user id)


class ServerFacts:
    """Capabilities and the existence of root folders, per account; see the module docstring."""

    def __init__(
        self, ttl: float = CAPABILITIES_TTL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._caps: dict[Account, tuple[float, Capabilities]] = {}
        self._roots: set[tuple[Account, str]] = set()

    def capabilities(self, account: Account, fetch: Callable[[], Capabilities]) -> Capabilities:
        """The account's capabilities: remembered ones while fresh, else ``fetch()``."""
        now = self._clock()
        with self._lock:
            known = self._caps.get(account)
        if known is not None and now - known[0] < self._ttl:
            return known[1]
        caps = fetch()
        with self._lock:
            self._caps[account] = (now, caps)
        return caps

    def root_exists(self, account: Account, root: str) -> bool:
        """True when a run of this Submitter already made sure ``root`` exists."""
        with self._lock:
            return (account, root) in self._roots

    def root_made(self, account: Account, root: str) -> None:
        """``root`` exists now (created or found)."""
        with self._lock:
            self._roots.add((account, root))

    def root_missing(self, account: Account, root: str) -> None:
        """``root`` was found missing: the next run creates it again."""
        with self._lock:
            self._roots.discard((account, root))
