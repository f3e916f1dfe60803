"""The pause/delete token a worker checks between steps and hands to every transfer.

It is a ``threading.Event`` (so ``nextcloud.put``/``upload_chunk`` stop mid-body when it is
set) that also remembers *why* the caller wants the worker to stop: pause, delete, or close.
``Timing`` holds how long the engine waits for a worker to stop (tests shrink it).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import Enum


class StopReason(str, Enum):
    """Why a worker was asked to stop."""

    PAUSE = "pause"  # user pressed Pause: the report becomes PAUSED
    DELETE = "delete"  # the report is being deleted: stop, the caller removes it
    CLOSE = "close"  # the Submitter is closing: the report becomes INTERRUPTED (resumable)
    ELSEWHERE = "elsewhere"  # another process resumed the report: stop, record nothing


class StopToken(threading.Event):
    """An Event with a reason; the first reason given wins (delete overrides pause)."""

    def __init__(self) -> None:
        super().__init__()
        self._reason: StopReason | None = None
        self._reason_lock = threading.Lock()

    @property
    def reason(self) -> StopReason | None:
        """Why the worker should stop, or None while it may go on."""
        return self._reason

    def stop(self, reason: StopReason) -> None:
        """Ask the worker to stop for ``reason``; DELETE always wins over PAUSE/CLOSE."""
        with self._reason_lock:
            if self._reason is None or reason is StopReason.DELETE:
                self._reason = reason
        self.set()


class Stopped(Exception):
    """Raised inside a worker when its StopToken is set between two steps."""

    def __init__(self, reason: StopReason) -> None:
        super().__init__(f"stopped: {reason.value}")
        self.reason = reason


def check(token: StopToken) -> None:
    """Raise :class:`Stopped` when ``token`` is set."""
    if token.is_set():
        raise Stopped(token.reason or StopReason.PAUSE)


@dataclass(frozen=True)
class Timing:
    """How long the engine waits for workers; tests shrink these to run in milliseconds."""

    #: How long pause/delete wait for the worker before recording the new state themselves.
    #: A PUT under the token stops within ~0.25 s, mid-body or while waiting for the answer; a
    #: request sent without the token (the final MOVE while the server assembles the file, a
    #: PROPFIND) may take longer, and its worker then records nothing when it comes back.
    stop_grace: float = 1.0
    #: How long close() waits for workers in all.
    close_wait: float = 5.0
    #: How often the cross-process monitor reads the recorded state of running reports.
    monitor_interval: float = 0.5
