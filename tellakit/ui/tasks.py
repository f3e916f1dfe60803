"""Slow calls (network checks, Login Flow, encrypting a large file) off the kernel's main thread.

A view starts a ``Task``; its callbacks run on the task's thread and only change widget traits.
Tests and notebook cells call ``wait()`` to continue once the task has finished.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Task(Generic[T]):
    """Run ``work()`` on a daemon thread, then ``on_done(result)`` or ``on_error(exc)``."""

    def __init__(
        self,
        work: Callable[[], T],
        *,
        on_done: Callable[[T], Any] | None = None,
        on_error: Callable[[BaseException], Any] | None = None,
        name: str = "tellakit-ui-task",
    ) -> None:
        self._work = work
        self._on_done = on_done
        self._on_error = on_error
        self.result: T | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.result = self._work()
        except BaseException as exc:  # reported to the view, which shows str(exc)
            self.error = exc
            if self._on_error is not None:
                self._guard(self._on_error, exc)
            return
        if self._on_done is not None:
            self._guard(self._on_done, self.result)

    @staticmethod
    def _guard(fn: Callable[[Any], Any], arg: Any) -> None:
        try:
            fn(arg)
        except Exception:
            log.exception("A UI task callback failed.")

    @property
    def running(self) -> bool:
        """True until the work and its callback have finished."""
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until finished (True) or ``timeout`` seconds passed (False)."""
        self._thread.join(timeout)
        return not self._thread.is_alive()
