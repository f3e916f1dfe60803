"""The open Submitters of this process: one per vault, found again by everyone who asks.

The app, the CLI and ``batch.submit_many`` all get a vault's Submitter through
:func:`shared` (``Submitter.for_vault`` and ``Submitter.shared`` call it), so they share one
set of workers instead of sending the same outbox twice. A new Submitter asks
:func:`held_by_others` which reports are alive here before it recovers orphans. Each
Submitter is closed at interpreter exit, so a running report is recorded as interrupted rather
than left "uploading".

Thread rules: ``_LOCK`` guards ``_OPEN`` (weak references: an unused Submitter may still be
garbage-collected). A Submitter's own methods are called without it, except the short
``closed`` and ``held`` reads.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tellakit.engine.submitter import Submitter

_OPEN: weakref.WeakSet[Submitter] = weakref.WeakSet()
_LOCK = threading.Lock()
#: How long each Submitter may take to record its running reports at interpreter exit.
EXIT_CLOSE_SECONDS = 2.0


def register(submitter: Submitter) -> None:
    """Remember ``submitter`` and close it at interpreter exit."""
    with _LOCK:
        _OPEN.add(submitter)
    atexit.register(_close_at_exit, weakref.ref(submitter))


def _open_for(vault: object) -> list[Submitter]:
    with _LOCK:
        return [s for s in _OPEN if s.vault is vault and not s.closed]


def shared(vault: object, make: Callable[[], Submitter]) -> tuple[Submitter, bool]:
    """The open Submitter of ``vault`` in this process, else ``make()``; and whether it is new.

    Two threads asking at once for a vault without one may both make one; the second's
    orphan recovery leaves the first one's reports alone (:func:`held_by_others`).
    """
    for submitter in _open_for(vault):
        return submitter, False
    return make(), True


def held_by_others(vault: object, me: Submitter) -> set[str]:
    """Reports the other open Submitters of ``vault`` in this process hold (alive)."""
    held: set[str] = set()
    for other in _open_for(vault):
        if other is not me:
            held |= other.held()
    return held


def _close_at_exit(ref: weakref.ReferenceType[Submitter]) -> None:
    submitter = ref()
    if submitter is not None:
        submitter.close(timeout=EXIT_CLOSE_SECONDS)
