"""What the engine knows of the link to a server: how many bytes get through between drops, and
how fast they go; kept in the vault so that a new process starts from what the last one learned.

Field links drop every few megabytes. A drop is a connection lost (``ConnectionLost``) while a
chunk or a file was on its way; its distance is the bytes that got through since the drop
before (confirmed pieces plus what the lost requests had sent). The model keeps a smoothed
distance (``between_drops``) and the bytes through since the last drop (``streak``); their
larger, ``reach``, is what the link is believed to carry (a link that holds longer than it used
to is believed at once, so chunks grow again while they succeed).

The **window** is the size of the chunk crossing the link at a time. A drop loses about half
of it, and each chunk costs a request (``request_cost``, in bytes of the link), so the total
cost per byte, window / (2 x reach) + request_cost / window, is least at

    window = sqrt(2 x request_cost x reach) / transfers running on this link

(with the default 32 KiB: 0.7 MB chunks when the link drops every 8 MB, about 4.5 % lost; 1.6
MB at 40 MB, 2 %). A chunk **gets through** (``carries``) when it is at most ``share`` (1/16) of
the reach: the test for chunking v2's 5 MiB chunks, so the next file speaks v2 again once the
link carries 80 MiB between drops. A file whose v2 upload had chunks confirmed before the link
turned out not to carry 5 MiB chunks leaves it for v1 only when sending the confirmed part again
costs less than the 5 MiB chunks would lose on the rest (``restart_pays``): at ~8 MB between
drops 5 MiB chunks cost some 40 % more link bytes than the payload, at ~40 MB about 7 %.

A link never seen dropping is not known to hold either: its window starts at
``UNKNOWN_WINDOW`` (10 MiB) and grows as half its streak, so a first drop costs a few
megabytes, not the 100 MiB chunks of a fast link, while a link that holds reaches full-size
chunks within its first gigabyte (and keeps its streak for the next process).

A drop ends every connection, so a transfer sees at most one per attempt: a drop reported by
an attempt that began before the last recorded drop is that drop, seen by another transfer on
the same link (two reports at once), and counts once. The vault is written after each drop and
at most every few seconds otherwise (``LinkStats``).

Thread rules: ``LinkModel._lock`` guards its numbers and the transfer count; the vault is
written outside it (a write that loses a race with a newer one only delays the newer one to
the next write). ``LinkBook._lock`` guards its dict of models. Transfers of any worker call in.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from tellakit.errors import TellakitError
from tellakit.vault.models import LinkStats

log = logging.getLogger(__name__)

#: Weight of a new observation in the smoothed distance between drops.
SMOOTHING = 0.3
#: Seconds between two writes of the link's record without a drop.
SAVE_INTERVAL = 5.0
#: The window of a link never seen dropping: at first, and as a share of its streak.
UNKNOWN_WINDOW = 10 * 1024 * 1024
UNKNOWN_SHARE = 1 / 2


class LinkStore(Protocol):
    """Where the link's record is kept (the Vault)."""

    def get_link_stats(self, server_url: str) -> LinkStats | None: ...

    def set_link_stats(self, server_url: str, stats: LinkStats) -> None: ...


class LinkModel:
    """The link to one server (see the module docstring)."""

    def __init__(
        self,
        key: str,
        store: LinkStore | None = None,
        *,
        share: float = 1 / 16,
        request_cost: int = 32 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.key = key
        self._store = store
        self._share = share
        self._request_cost = request_cost
        self._clock = clock
        self._lock = threading.Lock()
        self._stats = _load(store, key)
        self._transfers = 0
        self._last_drop: float | None = None
        self._saved_at = clock()

    def __repr__(self) -> str:
        s = self.stats
        return f"<LinkModel drops={s.drops} between={s.between_drops} streak={s.streak}>"

    @property
    def stats(self) -> LinkStats:
        """The numbers as they stand."""
        with self._lock:
            return self._stats

    # --- what transfers tell it ------------------------------------------------------------

    def begin(self) -> float:
        """A transfer starts using the link (the window is shared among them); returns the
        time it began, for :meth:`dropped`."""
        with self._lock:
            self._transfers += 1
            return self._clock()

    def end(self) -> None:
        """A transfer stopped using the link; the record is written."""
        with self._lock:
            self._transfers = max(0, self._transfers - 1)
        self._save()

    def delivered(self, nbytes: int, rate: float | None = None) -> None:
        """``nbytes`` got through (a confirmed chunk or file); ``rate`` bytes/s if measured."""
        if nbytes <= 0:
            return
        with self._lock:
            s = self._stats
            throughput = s.throughput
            if rate is not None and rate > 0:
                throughput = rate if throughput is None else 0.7 * throughput + 0.3 * rate
            self._stats = replace(s, streak=s.streak + nbytes, throughput=throughput)
            due = self._clock() - self._saved_at >= SAVE_INTERVAL
        if due:
            self._save()

    def dropped(self, lost: int, began: float) -> None:
        """The connection dropped with ``lost`` bytes of unconfirmed requests sent, in a
        transfer that began at ``began`` (what :meth:`begin` returned)."""
        now = self._clock()
        with self._lock:
            if self._last_drop is not None and began < self._last_drop:
                return  # another transfer on the same link saw the same drop
            self._last_drop = now
            s = self._stats
            distance = float(s.streak + max(0, lost))
            if s.between_drops is None:
                between = distance
            else:
                between = (1 - SMOOTHING) * s.between_drops + SMOOTHING * distance
            self._stats = replace(s, between_drops=between, streak=0, drops=s.drops + 1)
        log.info("connection dropped after %.1f MB; window now %s", distance / 1e6, self.window())
        self._save()

    # --- what the planner asks -------------------------------------------------------------

    def window(self) -> float:
        """Bytes of one transfer's chunk crossing the link at a time (module docstring)."""
        with self._lock:
            s = self._stats
            if s.between_drops is None:
                window = max(UNKNOWN_WINDOW, UNKNOWN_SHARE * s.streak)
            else:
                reach = max(s.between_drops, float(s.streak))
                window = math.sqrt(2 * self._request_cost * reach)
            return window / max(1, self._transfers)

    def carries(self, nbytes: int) -> bool:
        """True when chunks of ``nbytes`` are expected to get through between drops (a link
        never seen dropping is given the benefit of the doubt)."""
        with self._lock:
            s = self._stats
            if s.between_drops is None:
                return True
            return nbytes <= self._share * max(s.between_drops, float(s.streak))

    def restart_pays(self, confirmed: int, left: int, chunk: int) -> bool:
        """True when sending the ``confirmed`` bytes again, then the ``left`` bytes in chunks
        of the window, costs the link less than sending ``left`` in chunks of ``chunk`` (a v2
        upload's 5 MiB floor): whether a file should leave its chunking v2 upload for v1."""
        with self._lock:
            s = self._stats
            if s.between_drops is None:
                return False
            reach = max(s.between_drops, float(s.streak))
        window = max(1.0, self.window())
        stay = left * self._cost(chunk, reach)
        return confirmed + left * self._cost(window, reach) < stay

    def _cost(self, chunk: float, reach: float) -> float:
        """Link bytes per payload byte sent in chunks of ``chunk`` when the link drops after
        ``reach`` bytes on average (at random: a chunk is sent again until it gets through,
        reach x (e^(chunk/reach) - 1) / chunk, about 1 + chunk / (2 x reach) for small chunks),
        plus what its request costs per byte."""
        resend = reach * math.expm1(min(chunk / reach, 50.0)) / chunk
        return resend + self._request_cost / chunk

    def throughput(self) -> float | None:
        """Bytes per second of confirmed chunks (smoothed), None before any."""
        with self._lock:
            return self._stats.throughput

    # --- the vault --------------------------------------------------------------------------

    def _save(self) -> None:
        if self._store is None:
            return
        with self._lock:
            stats = self._stats
            self._saved_at = self._clock()
        try:
            self._store.set_link_stats(self.key, stats)
        except TellakitError as exc:  # e.g. the vault was locked meanwhile: learn next time
            log.info("could not keep the link's record: %s", type(exc).__name__)


def _load(store: LinkStore | None, key: str) -> LinkStats:
    if store is None:
        return LinkStats()
    try:
        return store.get_link_stats(key) or LinkStats()
    except TellakitError as exc:
        log.info("could not read the link's record: %s", type(exc).__name__)
        return LinkStats()


class LinkBook:
    """The link models of one Submitter, one per server; made on first use from the vault."""

    def __init__(
        self, store: LinkStore | None, *, share: float = 1 / 16, request_cost: int = 32 * 1024
    ) -> None:
        self._store = store
        self._share = share
        self._request_cost = request_cost
        self._lock = threading.Lock()
        self._links: dict[str, LinkModel] = {}

    def link(self, server_url: str) -> LinkModel:
        """The model of the link to ``server_url``."""
        key = server_url.rstrip("/")
        with self._lock:
            model = self._links.get(key)
            if model is None:
                model = LinkModel(
                    key, self._store, share=self._share, request_cost=self._request_cost
                )
                self._links[key] = model
            return model
