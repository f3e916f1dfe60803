"""One run of one report: queued, held by a worker, ended; and who records how it ended.

A run is created when a report is queued and ends when its worker lets go (or when it is taken
off the queue before a worker came). Several parties may want to write the report's state when
a run stops: the worker itself, ``pause()`` or ``close()`` when the worker is stuck in a request
longer than they wait, the cross-process monitor when another process paused or took the report
over, and ``submit()`` when a resume comes while the worker still winds down. Exactly one of
them writes: the first to call :meth:`ReportRun.claim_end` wins, and everybody else records
nothing. That one step replaces the old flags (``state_recorded``, ``resume_requested``, ...).

Thread rules: ``ReportRun._lock`` guards ``phase``, the end writer and the attempt count; it is
held only for those few assignments, never while calling out. The stop token and ``ended`` are
``threading.Event``s, safe from any thread. Only the work queue (holding its own condition)
moves a run between phases; lock order is queue condition -> run lock, never the reverse.
"""

from __future__ import annotations

import threading
from enum import Enum

from tellakit.engine.control import StopReason, StopToken
from tellakit.engine.retry import Verdict


class RunPhase(str, Enum):
    """Where a run is."""

    QUEUED = "queued"  # waiting for a worker (or, as a successor, for its predecessor to end)
    RUNNING = "running"  # a worker holds it
    ENDED = "ended"  # the worker let go, or it left the queue before a worker came


class EndWriter(str, Enum):
    """Who records the report's state when the run stops (see the module docstring)."""

    WORKER = "worker"  # the worker records submitted, paused or interrupted
    CALLER = "caller"  # pause() or close() recorded it while the worker was still winding down
    ELSEWHERE = "elsewhere"  # another process paused, deleted or took over the report
    SUCCESSOR = "successor"  # a resume came while winding down: the next run owns the state


class ReportRun:
    """One attempt at one report; see the module docstring for the thread rules."""

    def __init__(self, report_id: str) -> None:
        self.report_id = report_id
        self.token = StopToken()
        self.ended = threading.Event()
        self._lock = threading.Lock()
        self._phase = RunPhase.QUEUED
        self._writer: EndWriter | None = None
        self._attempt: int | None = None
        #: How the run failed, set by its worker before the run ends (None: it did not fail).
        self.failure: Verdict | None = None

    def __repr__(self) -> str:
        return f"<ReportRun {self.report_id} {self._phase.value} writer={self._writer}>"

    # --- phase (moved by the work queue only) -------------------------------------------------

    @property
    def phase(self) -> RunPhase:
        """QUEUED, RUNNING or ENDED."""
        with self._lock:
            return self._phase

    def start(self) -> bool:
        """QUEUED -> RUNNING for the worker that took it; False when stopped meanwhile."""
        with self._lock:
            if self._phase is not RunPhase.QUEUED or self.token.is_set():
                return False
            self._phase = RunPhase.RUNNING
            return True

    def end(self) -> None:
        """-> ENDED (from any phase); wakes whoever waits on ``ended``."""
        with self._lock:
            self._phase = RunPhase.ENDED
        self.ended.set()

    # --- stopping -----------------------------------------------------------------------------

    def stop(self, reason: StopReason) -> None:
        """Ask the worker to stop (a transfer under the token stops within about a second)."""
        self.token.stop(reason)

    @property
    def stopping(self) -> bool:
        """True once a stop was asked for."""
        return self.token.is_set()

    @property
    def stop_reason(self) -> StopReason | None:
        """Why it was asked to stop, or None."""
        return self.token.reason

    def claim_end(self, writer: EndWriter) -> bool:
        """Become the one who records how this run ended; True for the first caller only."""
        with self._lock:
            if self._writer is not None:
                return False
            self._writer = writer
            return True

    @property
    def end_writer(self) -> EndWriter | None:
        """Who claimed the end (None while nobody has)."""
        with self._lock:
            return self._writer

    # --- the attempt count (for the cross-process monitor) --------------------------------------

    def record_attempt(self, attempt: int) -> None:
        """Remember the attempt count this run wrote to the vault."""
        with self._lock:
            self._attempt = attempt

    @property
    def attempt(self) -> int | None:
        """The attempt count this run recorded (None before the worker wrote it)."""
        with self._lock:
            return self._attempt
