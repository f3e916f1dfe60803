"""The queue of reports to send and the worker threads that send them.

Each report has at most one *current* run (queued, or held by a worker) and, while a stopped
worker still winds down (waiting for a server answer it cannot abandon), that *winding* run.
A resume during the wind-down makes a successor run that is queued only when the winding one
ends, so two workers never hold one report. ``wait`` blocks until reports are idle.

Thread rules: ``WorkQueue._cond`` guards ``_queue`` (ids waiting for a worker, in order),
``_runs`` (the current run per report), ``_winding``, ``_threads``, ``_halted`` and
``_closed``; it is notified whenever a run ends or the queue changes. The run itself
(``execute``) and the ``on_end`` hook are called without it. Lock order: ``_cond`` ->
``ReportRun._lock`` and ``_cond`` -> the retry scheduler's lock (``wait``'s extra condition),
never the reverse.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from enum import Enum

from tellakit.engine.control import StopReason
from tellakit.engine.run import ReportRun, RunPhase

log = logging.getLogger(__name__)


class Holding(str, Enum):
    """What the queue holds of one report (see :meth:`WorkQueue.lookup`)."""

    NOTHING = "nothing"  # no run: free to queue
    LIVE = "live"  # queued or running, not asked to stop
    WINDING = "winding"  # a worker holds a stopped run that has not let go yet


class WorkQueue:
    """Report ids waiting for ``workers`` threads, each calling ``execute(run)``; then
    ``on_end(run)`` on the same thread once the run has left the queue."""

    def __init__(
        self,
        execute: Callable[[ReportRun], None],
        *,
        workers: int,
        name: str = "tellakit-submitter",
        on_end: Callable[[ReportRun], None] = lambda run: None,
    ) -> None:
        self._execute = execute
        self._on_end = on_end
        self._workers = max(1, int(workers))
        self._name = name
        self._cond = threading.Condition()
        self._queue: deque[str] = deque()
        self._runs: dict[str, ReportRun] = {}
        self._winding: dict[str, ReportRun] = {}
        self._threads: list[threading.Thread] = []
        self._halted: str | None = None  # why batch runs are refused (a fatal error)
        self._closed = False

    # --- reading --------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        with self._cond:
            return self._closed

    def lookup(self, report_id: str) -> tuple[Holding, ReportRun | None]:
        """What the queue holds of the report, and the run concerned (live or winding)."""
        with self._cond:
            current = self._runs.get(report_id)
            if current is not None and not current.stopping:
                return Holding.LIVE, current
            if current is not None and current.phase is RunPhase.RUNNING:
                return Holding.WINDING, current
            winding = self._winding.get(report_id)
            if winding is not None:
                return Holding.WINDING, winding
            return Holding.NOTHING, None

    def active(self) -> list[str]:
        """Reports whose run is queued or running and was not asked to stop."""
        with self._cond:
            return [rid for rid, run in self._runs.items() if not run.stopping]

    def held(self) -> set[str]:
        """Every report this queue has a run of (queued, running or winding down)."""
        with self._cond:
            return set(self._runs) | set(self._winding)

    def running(self) -> list[ReportRun]:
        """The runs a worker holds now (winding ones included)."""
        with self._cond:
            runs = [r for r in self._runs.values() if r.phase is RunPhase.RUNNING]
            return runs + list(self._winding.values())

    def _busy_locked(self, report_id: str | None) -> bool:
        if report_id is None:
            return bool(self._queue or self._winding) or any(
                r.phase is RunPhase.RUNNING for r in self._runs.values()
            )
        run = self._runs.get(report_id)
        return (
            report_id in self._queue
            or report_id in self._winding
            or (run is not None and run.phase is RunPhase.RUNNING)
        )

    def busy(self, report_id: str | None = None) -> bool:
        """True while the report (or any report) is queued or held by a worker."""
        with self._cond:
            return self._busy_locked(report_id)

    def wait(
        self,
        report_id: str | None,
        timeout: float | None,
        *,
        also: Callable[[str | None], bool] | None = None,
    ) -> bool:
        """Block until the report (or every report) is idle and ``also(report_id)`` is false.

        ``also`` is an extra reason to keep waiting (e.g. a pending retry); it is called with
        the queue's condition held, so it must only take locks that come after it. Returns
        False when ``timeout`` passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._busy_locked(report_id) or (also is not None and also(report_id)):
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(0.5 if left is None else min(left, 0.5))
            return True

    def notify(self) -> None:
        """Wake :meth:`wait`ers to look again (another part's state changed)."""
        with self._cond:
            self._cond.notify_all()

    def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds`` (notifications do not shorten it); True when closed meanwhile."""
        wake = time.monotonic() + seconds
        with self._cond:
            while not self._closed and (left := wake - time.monotonic()) > 0:
                self._cond.wait(left)
            return self._closed

    # --- commands ---------------------------------------------------------------------------

    def enqueue(self, report_id: str, *, batch: bool = False) -> bool:
        """Queue a run of the report (nothing when a live one exists); False when ``batch``
        and the batch was halted by a fatal error.

        While an earlier run of the report still winds down, the new run waits for it to end.
        """
        with self._cond:
            if self._closed:
                raise RuntimeError("this Submitter is closed; create a new one")
            if batch and self._halted is not None:
                return False
            current = self._runs.get(report_id)
            if current is not None and not current.stopping:
                return True
            if current is not None and current.phase is RunPhase.RUNNING:
                self._winding[report_id] = current
            self._runs[report_id] = ReportRun(report_id)
            if report_id not in self._winding and report_id not in self._queue:
                self._queue.append(report_id)
            self._start_workers_locked()
            self._cond.notify_all()
            return True

    def stop(self, report_id: str, reason: StopReason) -> ReportRun | None:
        """Take the report off the queue and stop its runs; returns the run a worker holds.

        A queued run (or a successor waiting for a winding one) simply ends here.
        """
        with self._cond:
            if report_id in self._queue:
                self._queue.remove(report_id)
            held: ReportRun | None = None
            current = self._runs.get(report_id)
            if current is not None:
                current.stop(reason)
                if current.phase is RunPhase.QUEUED:
                    current.end()
                    del self._runs[report_id]
                else:
                    held = current
            winding = self._winding.get(report_id)
            if winding is not None:
                winding.stop(reason)  # a delete overrides the pause it winds down from
                held = held or winding
            self._cond.notify_all()
            return held

    def halt_batch(self, reason: str) -> list[str]:
        """A fatal error: refuse further batch runs and drop every queued run; their ids."""
        with self._cond:
            self._halted = reason
            dropped = list(self._queue)
            self._queue.clear()
            for report_id in dropped:
                run = self._runs.pop(report_id, None)
                if run is not None:
                    run.end()
            self._cond.notify_all()
            return dropped

    @property
    def halted(self) -> str | None:
        """Why batch runs are refused (the fatal error's reason), or None."""
        with self._cond:
            return self._halted

    def reopen_batch(self) -> None:
        """Accept batch runs again (a new ``submit_outbox``)."""
        with self._cond:
            self._halted = None

    def close(self) -> tuple[list[str], list[ReportRun]]:
        """Stop for good: queued runs end at once, held ones are asked to stop (CLOSE).

        Returns (ids of the queued runs dropped, runs a worker still holds); both empty when
        closed already.
        """
        with self._cond:
            if self._closed:
                return [], []
            self._closed = True
            dropped = [rid for rid, run in self._runs.items() if run.phase is RunPhase.QUEUED]
            for report_id in dropped:
                run = self._runs.pop(report_id)
                run.stop(StopReason.CLOSE)
                run.end()
            self._queue.clear()
            held = [r for r in self._runs.values() if r.phase is RunPhase.RUNNING]
            held += [r for r in self._winding.values() if r not in held]
            for run in held:
                run.stop(StopReason.CLOSE)
            self._cond.notify_all()
            return dropped, held

    def join(self, deadline: float) -> None:
        """Wait for the worker threads to exit, until ``deadline`` (time.monotonic)."""
        with self._cond:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # --- workers ----------------------------------------------------------------------------

    def _start_workers_locked(self) -> None:
        self._threads = [t for t in self._threads if t.is_alive()]
        while len(self._threads) < self._workers:
            thread = threading.Thread(
                target=self._worker_loop,
                name=f"{self._name}-{len(self._threads) + 1}",
                daemon=True,
            )
            self._threads.append(thread)
            thread.start()

    def _next_run(self) -> ReportRun | None:
        """The next run to execute, marked RUNNING; None when closed."""
        with self._cond:
            while True:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return None
                run = self._runs.get(self._queue.popleft())
                if run is not None and run.start():
                    return run

    def _worker_loop(self) -> None:
        while (run := self._next_run()) is not None:
            try:
                self._execute(run)
            except Exception:  # never let a worker die silently
                log.exception("submission worker failed unexpectedly")
            finally:
                self._let_go(run)

    def _let_go(self, run: ReportRun) -> None:
        """The worker is done with ``run``: end it, and queue a successor that waited for it."""
        report_id = run.report_id
        with self._cond:
            run.end()
            if self._runs.get(report_id) is run:
                del self._runs[report_id]
            elif self._winding.get(report_id) is run:
                del self._winding[report_id]
                successor = self._runs.get(report_id)
                if successor is not None and not self._closed:
                    self._queue.append(report_id)
            self._cond.notify_all()
        try:
            self._on_end(run)
        except Exception:
            log.exception("after-run hook failed")
