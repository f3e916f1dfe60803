"""The pause/delete token a worker checks between steps and hands to every transfer.

It is a ``threading.Event`` (so ``nextcloud.put``/``upload_chunk`` stop mid-body when it is
set) that also remembers *why* the caller wants the worker to stop: pause, delete, or close.
"""

from __future__ import annotations

import threading
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
