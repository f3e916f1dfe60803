"""When a report stopped by a retryable error is tried again: the one place that decides.

One :class:`RetryPolicy` serves the app, the CLI and ``batch.submit_many``:

* The budget counts attempts in a row that made **no progress**; an attempt that got a piece
  confirmed by the server (a chunk, a file, the description; see confirm.py) resets it.
* After an attempt that made progress the next one starts after ``restart_after_progress``
  (1 s). Across attempts without progress the wait grows (``Backoff``: 2, 4, 8 ... capped at
  60 s); a Retry-After from the server is always honoured.
* While the server is unreachable (connection lost, 5xx) a cheap probe (status.php, every
  ``probe_interval`` = 2 s) replaces the attempts: none is spent while it fails, and the next
  attempt starts as soon as a probe that failed is answered again.
* ``give_up_after`` (1 h) without progress ends the retrying, as does a spent budget; the reason
  goes into the report's outbox reason. Fatal errors (401, 507, a refused name, ...) are never
  retried, whatever the policy.

Whether a report is retried automatically at all is ``RetryPolicy.auto``: True (the CLI's
default), False, or None = the connection's "auto_retry" setting (the app's default: resume by
hand, as in Tella). A per-report policy (``prefer``) overrides the Submitter's for that report.

The clock, the timers and the probe are injected, so every decision here is tested without
sleeping (tests/engine/test_retry_policy.py).

A plan made when an attempt fails is held until the run has let go (``release``), so the retry
never meets the run it follows still holding the report.

Thread rules: ``RetryScheduler._lock`` guards ``_tracks`` (one ``_Track`` per report with a
history or a plan) and ``_closed``. Timer callbacks, the probe, ``due`` and ``on_change`` run
without it. Nothing here takes another part's lock while holding its own, so the work queue
may call :meth:`pending` under its condition (lock order: queue -> scheduler).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from tellakit.engine.retry import Backoff, Verdict

#: How far back "3 times in the last minute" looks.
RECENT_SECONDS = 60.0


@dataclass(frozen=True)
class RetryPolicy:
    """How automatic retry behaves (see the module docstring)."""

    #: Retry automatically: True, False, or None for the connection's "auto_retry" setting.
    auto: bool | None = None
    #: Retries in a row after attempts that made no progress; then the retrying ends.
    retries_without_progress: int = 8
    #: Seconds before the next attempt when the last one made progress.
    restart_after_progress: float = 1.0
    #: The growing wait across attempts without progress (capped at 60 s).
    backoff: Backoff = field(default_factory=Backoff)
    #: Seconds without progress after which the retrying ends (None: never).
    give_up_after: float | None = 3600.0
    #: Seconds between two status.php probes while the server is unreachable.
    probe_interval: float = 2.0


@dataclass(frozen=True)
class RetryOutlook:
    """What is planned for a report waiting for an automatic retry, for views and status."""

    why: str  # e.g. "connection lost 3 times in the last minute"
    next_in: float | None  # seconds until the next attempt; None while waiting for the server
    waiting_for_server: bool  # the server does not answer its probe yet

    def describe(self) -> str:
        """``"connection lost 3 times in the last minute; next try in 12 s"``."""
        if self.next_in is None:
            return f"{self.why}; waiting for the server to answer"
        return f"{self.why}; next try in {math.ceil(self.next_in)} s"


@dataclass(frozen=True)
class RetryPlan:
    """What :meth:`RetryScheduler.failed` decided; ``note`` goes after the outbox reason."""

    retrying: bool
    note: str = ""


class Timer(Protocol):
    """A started timer that can be cancelled (``threading.Timer`` is one)."""

    def cancel(self) -> None: ...


#: (delay in seconds, action) -> a started timer that runs ``action`` after ``delay``.
TimerFactory = Callable[[float, Callable[[], None]], Timer]


def thread_timer(delay: float, action: Callable[[], None]) -> Timer:
    """A daemon ``threading.Timer``, started."""
    timer = threading.Timer(delay, action)
    timer.daemon = True
    timer.start()
    return timer


class _Next(str, Enum):
    ATTEMPT = "attempt"
    PROBE = "probe"


@dataclass
class _Track:
    """One report's retry history and plan (guarded by the scheduler's lock)."""

    policy: RetryPolicy
    last_progress: float  # clock time of the last confirmed piece (or of the first start)
    no_progress: int = 0  # attempts in a row that ended without progress
    progressed: bool = False  # the current attempt got a piece confirmed
    failures: deque[float] = field(default_factory=deque)  # clock times, the last minute
    label: str = ""  # what the last failure was
    next_at: float | None = None  # clock time of the next attempt (None: unknown yet)
    earliest: float = 0.0  # not before this (Retry-After)
    server_was_down: bool = False  # a probe failed since the last failure
    generation: int = 0  # of the armed timer; bumped when it is cancelled or replaced
    timer: Timer | None = None
    next_kind: _Next = _Next.ATTEMPT
    firing: bool = False  # a timer's action runs now
    held: tuple[_Next, float] | None = None  # planned, armed on release(): (kind, clock time)

    @property
    def pending(self) -> bool:
        return self.timer is not None or self.firing or self.held is not None


class RetryScheduler:
    """Plans automatic retries; ``due(report_id)`` runs when an attempt should start."""

    def __init__(
        self,
        due: Callable[[str], None],
        *,
        policy: RetryPolicy | None = None,
        auto_default: Callable[[], bool] = lambda: False,
        probe: Callable[[], bool] = lambda: True,
        timer: TimerFactory = thread_timer,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._due = due
        self.policy = policy or RetryPolicy()
        self._auto_default = auto_default
        self._probe = probe
        self._timer = timer
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.Lock()
        self._tracks: dict[str, _Track] = {}
        self._closed = False

    # --- what runs tell it -----------------------------------------------------------------

    def _track(self, report_id: str, policy: RetryPolicy | None = None) -> _Track:
        """The report's track, made on first use (the caller holds the lock)."""
        track = self._tracks.get(report_id)
        if track is None:
            track = _Track(policy or self.policy, last_progress=self._clock())
            self._tracks[report_id] = track
        elif policy is not None:
            track.policy = policy
        return track

    def prefer(self, report_id: str, policy: RetryPolicy) -> None:
        """Use ``policy`` for this report until it is submitted, given up or forgotten."""
        with self._lock:
            self._track(report_id, policy)

    def started(self, report_id: str) -> None:
        """An attempt starts (a worker took the report)."""
        with self._lock:
            self._track(report_id).progressed = False

    def progressed(self, report_id: str) -> None:
        """The server confirmed a piece of the report: the budget starts again."""
        with self._lock:
            track = self._track(report_id)
            track.progressed = True
            track.no_progress = 0
            track.last_progress = self._clock()

    def succeeded(self, report_id: str) -> None:
        """The report was submitted: its history ends."""
        self.forget(report_id)

    def failed(self, report_id: str, verdict: Verdict) -> RetryPlan:
        """An attempt ended with ``verdict``: plan the next one, or say why none comes."""
        with self._lock:
            policy = self._track(report_id).policy
        auto = policy.auto if policy.auto is not None else self._auto_default()
        with self._lock:
            plan = self._plan(report_id, verdict, auto=auto)
        self._on_change()
        return plan

    def _plan(self, report_id: str, verdict: Verdict, *, auto: bool) -> RetryPlan:
        track = self._track(report_id)
        now = self._clock()
        track.failures.append(now)
        while track.failures and track.failures[0] < now - RECENT_SECONDS:
            track.failures.popleft()
        track.label = verdict.label
        progressed, track.progressed = track.progressed, False
        track.no_progress = 0 if progressed else track.no_progress + 1
        policy = track.policy
        if self._closed or not verdict.retryable or not auto:
            self._drop(report_id)
            return RetryPlan(False)
        if track.no_progress > policy.retries_without_progress:
            self._drop(report_id)
            return RetryPlan(
                False, _stopped(f"{track.no_progress} attempts in a row made no progress")
            )
        limit = policy.give_up_after
        if limit is not None and now - track.last_progress >= limit:
            self._drop(report_id)
            return RetryPlan(False, _stopped(f"no progress for {format_duration(limit)}"))
        after = verdict.retry_after or 0.0
        wait = (
            policy.restart_after_progress
            if progressed
            else policy.backoff.delay(track.no_progress - 1)
        )
        wait = max(wait, after)
        track.earliest, track.next_at, track.server_was_down = now + after, now + wait, False
        if verdict.unreachable and wait > policy.probe_interval:
            track.held = (_Next.PROBE, now + policy.probe_interval)
        else:
            track.held = (_Next.ATTEMPT, now + wait)
        return RetryPlan(
            True, f"[automatic retry: {self._why(track, now)}; next try in {math.ceil(wait)} s]"
        )

    def release(self, report_id: str) -> None:
        """The run that failed has let go (its state is recorded): start the planned timer.

        Until then a retry could find the report still held by that run and be lost.
        """
        with self._lock:
            track = self._tracks.get(report_id)
            if track is None or track.held is None or self._closed:
                return
            kind, at = track.held
            track.held = None
            self._arm(report_id, track, kind, max(0.0, at - self._clock()))

    # --- timers -------------------------------------------------------------------------------

    def _arm(self, report_id: str, track: _Track, kind: _Next, delay: float) -> None:
        """Start the timer of the track's next action (the caller holds the lock)."""
        if track.timer is not None:
            track.timer.cancel()
        track.generation += 1
        generation = track.generation
        track.next_kind = kind
        track.timer = self._timer(delay, lambda: self._fire(report_id, generation))

    def _current(self, report_id: str, generation: int) -> _Track | None:
        track = self._tracks.get(report_id)
        if self._closed or track is None or track.generation != generation:
            return None
        return track

    def _fire(self, report_id: str, generation: int) -> None:
        with self._lock:
            track = self._current(report_id, generation)
            if track is None or track.timer is None:
                return  # cancelled or replaced meanwhile
            track.timer, track.firing = None, True
            kind = track.next_kind
        try:
            if kind is _Next.PROBE and not self._after_probe(report_id, generation):
                return
            self._due(report_id)
        finally:
            with self._lock:
                track.firing = False
            self._on_change()

    def _after_probe(self, report_id: str, generation: int) -> bool:
        """Probe the server; True when the attempt should start now, else arm what comes next."""
        answered = self._probe()
        with self._lock:
            track = self._current(report_id, generation)
            if track is None:
                return False
            policy, now = track.policy, self._clock()
            limit = policy.give_up_after
            if limit is not None and now - track.last_progress >= limit:
                return True  # one last attempt: its failure records why the retrying ends
            if not answered:
                track.server_was_down, track.next_at = True, None
                self._arm(report_id, track, _Next.PROBE, policy.probe_interval)
                return False
            # Back after a failed probe: start at once. Answering all along (the cut was on
            # the way, not the server): wait out the planned delay.
            start = track.earliest if track.server_was_down else (track.next_at or now)
            if start <= now:
                return True
            track.next_at = start
            self._arm(report_id, track, _Next.ATTEMPT, start - now)
            return False

    # --- what callers ask -----------------------------------------------------------------

    def cancel(self, report_id: str) -> None:
        """Drop the planned retry of the report (a resume by hand); its history stays."""
        with self._lock:
            track = self._tracks.get(report_id)
            if track is not None:
                self._disarm(track)
        self._on_change()

    def forget(self, report_id: str) -> None:
        """Drop the report's plan and history (paused, deleted, submitted)."""
        with self._lock:
            self._drop(report_id)
        self._on_change()

    def _disarm(self, track: _Track) -> None:
        if track.timer is not None:
            track.timer.cancel()
            track.timer = None
        track.held = None
        track.generation += 1

    def _drop(self, report_id: str) -> None:
        track = self._tracks.pop(report_id, None)
        if track is not None:
            self._disarm(track)

    def pending(self, report_id: str | None = None) -> bool:
        """True while a retry of the report (or of any report) is planned or starting."""
        with self._lock:
            if report_id is None:
                return any(t.pending for t in self._tracks.values())
            track = self._tracks.get(report_id)
            return track is not None and track.pending

    def outlook(self, report_id: str) -> RetryOutlook | None:
        """When the next attempt comes and why; None when none is planned."""
        with self._lock:
            track = self._tracks.get(report_id)
            if track is None or not track.pending:
                return None
            now = self._clock()
            next_in = None if track.next_at is None else max(0.0, track.next_at - now)
            return RetryOutlook(self._why(track, now), next_in, track.server_was_down)

    @staticmethod
    def _why(track: _Track, now: float) -> str:
        recent = sum(1 for t in track.failures if t >= now - RECENT_SECONDS)
        label = track.label or "stopped"
        return label if recent <= 1 else f"{label} {recent} times in the last minute"

    def close(self) -> None:
        """Cancel every planned retry; plan nothing from now on."""
        with self._lock:
            self._closed = True
            for track in self._tracks.values():
                self._disarm(track)
            self._tracks.clear()
        self._on_change()


def _stopped(why: str) -> str:
    return f"[automatic retry stopped: {why}; resume to try again]"


_NOTE = re.compile(r"\s*\[automatic retry(?: stopped)?: (?P<note>[^\]]*)\]$")
_NEXT_IN = re.compile(r"next try in (\d+) s")


def split_retry_note(reason: str | None) -> tuple[str | None, str | None]:
    """(the reason without its automatic-retry note, the note) of an outbox reason."""
    if not reason:
        return reason, None
    match = _NOTE.search(reason)
    if match is None:
        return reason, None
    return reason[: match.start()], match.group(0).strip()[1:-1]


def next_try_after(note: str) -> float | None:
    """Seconds from the moment the note was recorded to the planned try, if it says."""
    match = _NEXT_IN.search(note)
    return float(match.group(1)) if match else None


def retell_next_try(note: str, when: str) -> str:
    """``note`` with its "next try in N s" replaced by ``when`` (a reader's own countdown)."""
    return _NEXT_IN.sub(when, note, count=1)


def format_duration(seconds: float) -> str:
    """``3600`` -> ``"1 h"``, ``90`` -> ``"1 min 30 s"``."""
    left = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        count, left = divmod(left, size)
        if count:
            parts.append(f"{count} {unit}")
    return " ".join(parts) or "0 s"
