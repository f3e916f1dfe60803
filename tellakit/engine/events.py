"""Progress events: what the engine tells the world while it works.

Workers publish :class:`ProgressEvent` objects on an :class:`EventBus`; views, tqdm bars and
tests subscribe. Byte-progress events are throttled per report (at most ``max_rate`` a second);
a change of report or file state always goes out at once, so no subscriber misses "paused" or
"submitted". Callbacks run on the worker's thread; an exception in one is logged and ignored so
a broken view can never stop an upload.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

Listener = Callable[["ProgressEvent"], None]


@dataclass(frozen=True)
class ProgressEvent:
    """One moment of one report's submission.

    ``attachment_id`` is None for report-level events (state changes, description, manifest).
    For file events ``name``, ``bytes_sent`` and ``total`` are the file's, and
    ``report_bytes_sent`` / ``report_total`` the whole report's. ``state`` is the report's
    status value ("uploading", "paused", "interrupted", "submitted", ...); ``file_state`` the
    file's ("pending", "uploading", "uploaded", "verified", "failed") when there is a file.
    ``reason`` says why a report stopped; ``retryable`` whether trying again can help.
    """

    report_id: str
    attachment_id: str | None
    name: str
    bytes_sent: int
    total: int
    speed_bps: float
    state: str
    reason: str | None = None
    file_state: str | None = None
    report_bytes_sent: int = 0
    report_total: int = 0
    retryable: bool | None = None
    time: float = field(default_factory=time.time, compare=False)

    @property
    def fraction(self) -> float:
        """Share of ``total`` sent, 0..1 (1 for empty files)."""
        return 1.0 if self.total <= 0 else min(1.0, self.bytes_sent / self.total)


@dataclass(frozen=True)
class FileProgress:
    """Live state of one attachment, as :meth:`Submitter.snapshot` returns it."""

    attachment_id: str
    name: str
    remote_name: str | None
    bytes_sent: int
    total: int
    state: str
    error: str | None = None


@dataclass(frozen=True)
class ReportProgress:
    """Live state of one report for a view that (re)opens: the vault's record plus speed."""

    report_id: str
    title: str
    state: str
    reason: str | None
    retryable: bool | None
    bytes_sent: int
    total: int
    speed_bps: float
    active: bool  # a worker holds this report right now
    remote_folder: str | None
    files: tuple[FileProgress, ...] = ()

    @property
    def fraction(self) -> float:
        """Share of the report's bytes sent, 0..1 (1 when there is nothing to send)."""
        return 1.0 if self.total <= 0 else min(1.0, self.bytes_sent / self.total)


class SpeedMeter:
    """Exponentially smoothed bytes-per-second, fed with running byte counts."""

    def __init__(self, half_life: float = 2.0, clock: Callable[[], float] = time.monotonic):
        self._half_life = half_life
        self._clock = clock
        self._last_t: float | None = None
        self._rate = 0.0
        self._pending = 0

    def add(self, nbytes: int) -> float:
        """Record ``nbytes`` more sent now; return the smoothed rate."""
        now = self._clock()
        if self._last_t is None:
            self._last_t = now
            return self._rate
        dt = now - self._last_t
        if dt <= 0:
            # Same tick: fold the bytes into the next interval by not moving the clock.
            self._pending += nbytes
            return self._rate
        nbytes += self._pending
        self._pending = 0
        inst = nbytes / dt
        weight = 0.5 ** (dt / self._half_life)
        self._rate = inst if self._rate == 0 else weight * self._rate + (1 - weight) * inst
        self._last_t = now
        return self._rate

    @property
    def rate(self) -> float:
        """The last smoothed rate in bytes per second."""
        return self._rate

    def reset(self) -> None:
        """Forget the history (after a pause, the old rate means nothing)."""
        self._last_t = None
        self._rate = 0.0
        self._pending = 0


class EventBus:
    """Fan-out of progress events to subscribers, throttled per report."""

    def __init__(self, max_rate: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self._interval = 1.0 / max_rate if max_rate > 0 else 0.0
        self._clock = clock
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._last_sent: dict[str, float] = {}
        self._last_state: dict[str, tuple[str, str | None]] = {}

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every event that passes the throttle.

        Returns a function that unsubscribes (safe to call twice).
        """
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def publish(self, event: ProgressEvent, *, force: bool = False) -> bool:
        """Deliver ``event`` unless it is a byte update too soon after the last one.

        State changes (report state, or the file state of that file) always pass, as does
        ``force``. Returns True when the event was delivered.
        """
        key = event.report_id
        state_key = f"{event.report_id}/{event.attachment_id}"
        now = self._clock()
        with self._lock:
            state = (event.state, event.file_state)
            changed = self._last_state.get(state_key) != state
            report_changed = self._last_state.get(key, (None, None))[0] != event.state
            due = now - self._last_sent.get(key, float("-inf")) >= self._interval
            if not (force or changed or report_changed or due):
                return False
            self._last_state[state_key] = state
            self._last_state[key] = (event.state, None)
            self._last_sent[key] = now
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                # A broken view must never stop an upload; say so once in the log.
                log.exception("A progress subscriber raised; the upload goes on.")
        return True

    def forget(self, report_id: str) -> None:
        """Drop throttle state of a report (after it was deleted)."""
        with self._lock:
            self._last_sent.pop(report_id, None)
            prefix = report_id + "/"
            for k in [k for k in self._last_state if k == report_id or k.startswith(prefix)]:
                del self._last_state[k]
