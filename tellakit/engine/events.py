"""Progress events: what the engine tells the world while it works.

Workers publish events on an :class:`EventBus`; views, tqdm bars and tests subscribe. Every
event is a :class:`ProgressEvent` about one report: a :class:`ReportEvent` when the report's
state is recorded, a :class:`FileEvent` when bytes of one attachment move or its state changes,
a :class:`SettledEvent` when the report reaches its real end (no retry pending).
States are ``Status`` and ``FileState`` members, never strings. Byte-progress events are
throttled per report (at most ``max_rate`` a second); report events and file-state changes
always go out at once, so no subscriber misses "paused" or "submitted". Callbacks run on the
publishing thread; an exception in one is logged and ignored so a broken view can never stop an
upload.

Thread rules: ``EventBus._lock`` guards the listener list and the throttle's bookkeeping;
listeners are called after it is released. ``SpeedMeter`` has no lock: its owner serialises
calls (the progress tracker holds its own lock around them).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tellakit.engine.scheduler import RetryOutlook
from tellakit.reports import FileState, Status, Verification

log = logging.getLogger(__name__)

Listener = Callable[["ProgressEvent"], None]


@dataclass(frozen=True, kw_only=True)
class ProgressEvent:
    """What every event says about its report; subscribers receive the subclasses below.

    ``state`` is the report's status; ``report_bytes_sent`` / ``report_total`` the whole
    report's bytes (confirmed plus in flight) and size; ``speed_bps`` the smoothed speed while
    bytes move (0 otherwise).
    """

    report_id: str
    state: Status
    report_bytes_sent: int = 0
    report_total: int = 0
    speed_bps: float = 0.0
    time: float = field(default_factory=time.time, compare=False)

    @property
    def fraction(self) -> float:
        """Share of the report's bytes sent, 0..1 (1 when there is nothing to send)."""
        total = self.report_total
        return 1.0 if total <= 0 else min(1.0, self.report_bytes_sent / total)


@dataclass(frozen=True, kw_only=True)
class ReportEvent(ProgressEvent):
    """The report's state was recorded (a change, or the start of a run): always delivered.

    ``reason`` says why a report stopped; ``retryable`` whether trying again can help.
    """

    title: str = ""
    reason: str | None = None
    retryable: bool | None = None
    #: When an automatic retry comes and why, while one is planned.
    retry: RetryOutlook | None = None


@dataclass(frozen=True, kw_only=True)
class SettledEvent(ProgressEvent):
    """The report's real end, for now: submitted, or stopped with no automatic retry pending
    (paused, a fatal error, automatic retry off or given up). ``Submitter.wait(...,
    until="settled")`` returns at the same moment.

    ``stops_batch`` is True when the error would stop the next reports too (login refused,
    storage full).
    """

    title: str = ""
    reason: str | None = None
    retryable: bool | None = None
    stops_batch: bool = False


@dataclass(frozen=True, kw_only=True)
class FileEvent(ProgressEvent):
    """Bytes of one attachment moved, or its state changed (``file_state``).

    ``verify_bytes`` is set while the file is being verified by downloading it back: bytes
    of the server's copy downloaded and hashed so far (of ``total``); None otherwise.
    """

    attachment_id: str
    name: str
    bytes_sent: int
    total: int
    file_state: FileState
    verify_bytes: int | None = None

    @property
    def file_fraction(self) -> float:
        """Share of this file sent, 0..1 (1 for empty files)."""
        return 1.0 if self.total <= 0 else min(1.0, self.bytes_sent / self.total)


@dataclass(frozen=True)
class FileProgress:
    """Live state of one attachment, as :meth:`Submitter.snapshot` returns it."""

    attachment_id: str
    name: str
    remote_name: str | None
    bytes_sent: int
    total: int
    state: FileState
    error: str | None = None
    #: how the file was checked, once it is VERIFIED or SIZE_CHECKED
    verification: Verification | None = None
    #: bytes of the server's copy downloaded and hashed so far, while a download verifies it
    verify_bytes: int | None = None


@dataclass(frozen=True)
class ReportProgress:
    """Live state of one report for a view that (re)opens: the vault's record plus speed."""

    report_id: str
    title: str
    state: Status
    reason: str | None
    retryable: bool | None
    bytes_sent: int
    total: int
    speed_bps: float
    active: bool  # a worker holds this report right now
    remote_folder: str | None
    files: tuple[FileProgress, ...] = ()
    retry: RetryOutlook | None = None  # while an automatic retry is planned: when and why

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
        self._last_state: dict[str, Status | FileState] = {}  # report or report/file -> state

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

        Report events always pass, as do file events whose file state changed, and ``force``.
        Returns True when the event was delivered.
        """
        key = event.report_id
        now = self._clock()
        with self._lock:
            if isinstance(event, FileEvent):
                file_key = f"{key}/{event.attachment_id}"
                changed = self._last_state.get(file_key) != event.file_state
                self._last_state[file_key] = event.file_state
            else:
                changed = True
            changed = changed or self._last_state.get(key) != event.state
            due = now - self._last_sent.get(key, float("-inf")) >= self._interval
            if not (force or changed or due):
                return False
            self._last_state[key] = event.state
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
