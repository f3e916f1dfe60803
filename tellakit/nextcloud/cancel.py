"""Cooperative cancellation of a running transfer.

The engine hands ``put`` / ``upload_chunk`` a ``threading.Event`` (or anything with
``is_set()``); when it is set, the body stops within a fraction of a second and the call raises
:class:`Cancelled`; a request whose body is already sent is cut while it waits for the answer
(abort.py). ``Cancelled`` is not a ``TellakitError``: it means "the caller asked to stop",
which the engine turns into PAUSED; it is never shown to the user as a failure.
"""

from __future__ import annotations

from typing import Protocol


class CancelToken(Protocol):
    """Anything with ``is_set()``, such as ``threading.Event``."""

    def is_set(self) -> bool:  # pragma: no cover - protocol
        """Return True once the caller wants the transfer to stop."""
        ...


class Cancelled(Exception):
    """The caller set the cancel token; the request was abandoned (the connection dropped)."""

    def __init__(self, message: str = "Cancelled by the caller.", *, bytes_sent: int = 0) -> None:
        super().__init__(message)
        self.bytes_sent = bytes_sent


def is_cancelled(cancel: CancelToken | None) -> bool:
    """True when a token was given and it is set."""
    return cancel is not None and cancel.is_set()
