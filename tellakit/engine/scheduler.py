"""When a report stopped by a retryable error is tried again: the one place that decides.

With automatic retry on, a report interrupted by a retryable error (connection lost, 5xx, 423,
429) is submitted again after a delay from :class:`~tellakit.engine.retry.Backoff` that honours
the server's Retry-After, up to ``max_retries`` times; a success, a pause or a delete cancels
what is pending. Fatal errors are never retried (the runner halts the batch on auth/quota).

Timers are injected (``timer``), so the decisions are tested without sleeping: a fake timer
factory records each (delay, action) and the test fires them.

Thread rules: ``RetryScheduler._lock`` guards ``_timers`` and ``_counts``. The ``due`` callback
runs on the timer's thread, without the lock. Nothing here takes another part's lock while
holding its own, so the work queue may call :meth:`pending` under its condition.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from tellakit.engine.retry import Backoff, Verdict

#: How many automatic retries a report gets in a row.
MAX_AUTO_RETRIES = 8


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


class RetryScheduler:
    """Schedules automatic retries; ``due(report_id)`` runs when one is due."""

    def __init__(
        self,
        due: Callable[[str], None],
        *,
        backoff: Backoff | None = None,
        max_retries: int = MAX_AUTO_RETRIES,
        timer: TimerFactory = thread_timer,
    ) -> None:
        self._due = due
        self.backoff = backoff or Backoff()
        self.max_retries = max_retries
        self._timer = timer
        self._lock = threading.Lock()
        self._timers: dict[str, Timer] = {}
        self._counts: dict[str, int] = {}
        self._closed = False

    def schedule(self, report_id: str, verdict: Verdict) -> float | None:
        """Plan the next try after a retryable stop; its delay, or None when none comes."""
        with self._lock:
            count = self._counts.get(report_id, 0)
            if self._closed or not verdict.retryable or count >= self.max_retries:
                return None
            self._counts[report_id] = count + 1
            delay = self.backoff.delay(count, verdict.retry_after)
            old = self._timers.pop(report_id, None)
            self._timers[report_id] = self._timer(delay, lambda: self._fire(report_id))
        if old is not None:
            old.cancel()
        return delay

    def _fire(self, report_id: str) -> None:
        with self._lock:
            if self._closed or self._timers.pop(report_id, None) is None:
                return  # cancelled meanwhile
        self._due(report_id)

    def succeeded(self, report_id: str) -> None:
        """The report was submitted: its count starts again from zero."""
        with self._lock:
            self._counts.pop(report_id, None)

    def cancel(self, report_id: str) -> None:
        """Drop the pending retry of the report, if any (a pause, delete or resume by hand)."""
        with self._lock:
            timer = self._timers.pop(report_id, None)
        if timer is not None:
            timer.cancel()

    def pending(self, report_id: str | None = None) -> bool:
        """True while a retry of the report (or of any report) is scheduled."""
        with self._lock:
            return bool(self._timers) if report_id is None else report_id in self._timers

    def close(self) -> None:
        """Cancel every pending retry; schedule nothing from now on."""
        with self._lock:
            self._closed = True
            timers = list(self._timers.values())
            self._timers.clear()
        for timer in timers:
            timer.cancel()
