"""The throttled bridge from worker threads to widget traits.

Upload workers report progress many times a second. A view hands each update to its
``Throttle`` as a small function keyed by what it changes (one key per bar or label); updates
to the same key coalesce (the newest wins), and pending updates are applied together at most
``rate`` times a second, on a timer thread or on the calling thread. Workers never print or
display; changing a widget trait from a thread is what reaches the browser under ipykernel 7.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Protocol

log = logging.getLogger(__name__)

Update = Callable[[], None]


class _Cancellable(Protocol):
    def cancel(self) -> None: ...


Scheduler = Callable[[float, Callable[[], None]], _Cancellable]


def _timer(delay: float, fn: Callable[[], None]) -> threading.Timer:
    timer = threading.Timer(delay, fn)
    timer.daemon = True
    timer.start()
    return timer


class Throttle:
    """Coalesce widget updates from any thread; apply them at most ``rate`` times a second.

    ``post(key, update)`` never blocks on the widgets for long: when the last flush was long
    enough ago it applies at once, otherwise one timer flushes everything pending when the
    interval has passed, so the final state always lands. ``flush()`` applies pending updates
    now (tests and views that close call it).
    """

    def __init__(
        self,
        rate: float = 10.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        schedule: Scheduler = _timer,
    ) -> None:
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._clock = clock
        self._schedule = schedule
        self._lock = threading.Lock()
        self._apply_lock = threading.RLock()  # one flush at a time, in posting order
        self._pending: dict[Hashable, Update] = {}
        self._last_flush = float("-inf")
        self._timer: _Cancellable | None = None
        self._closed = False
        self.flushes = 0  # how many times updates were applied (tests read it)

    def post(self, key: Hashable, update: Update) -> None:
        """Queue ``update`` under ``key`` (replacing an older one under the same key)."""
        with self._lock:
            if self._closed:
                return
            self._pending.pop(key, None)  # re-insert so the newest update applies last
            self._pending[key] = update
            if self._timer is not None:
                return
            wait = self._last_flush + self._interval - self._clock()
            if wait > 0:
                self._timer = self._schedule(wait, self._on_timer)
                return
        self.flush()

    def _on_timer(self) -> None:
        with self._lock:
            self._timer = None
        self.flush()

    def flush(self) -> None:
        """Apply every pending update now, in the order they were last posted."""
        with self._apply_lock:
            with self._lock:
                pending = list(self._pending.values())
                self._pending.clear()
                if not pending:
                    return
                self._last_flush = self._clock()
                self.flushes += 1
            for update in pending:
                try:
                    update()
                except Exception:
                    # A widget that fails to update must not break the worker that posted.
                    log.exception("A widget update failed.")

    @property
    def pending(self) -> int:
        """Number of updates waiting for the next flush."""
        with self._lock:
            return len(self._pending)

    def close(self) -> None:
        """Drop pending updates and stop the timer; later posts are ignored."""
        with self._lock:
            self._closed = True
            self._pending.clear()
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
