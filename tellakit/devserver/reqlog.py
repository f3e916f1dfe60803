"""The request log (what tests assert on) and the one-line access log."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload

access_logger = logging.getLogger("tellakit.devserver.access")


@dataclass
class RequestRecord:
    """One handled request. ``status`` is 0 when the connection was cut (by a fault or
    by the client) before a response went out."""

    method: str
    path: str
    status: int
    bytes_in: int
    bytes_out: int
    time: float  # when the request arrived (time.time())


class RequestLog(Sequence[RequestRecord]):
    """A thread-safe, list-like log of requests, oldest first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[RequestRecord] = []

    def append(self, record: RequestRecord) -> None:
        """Add a finished request."""
        with self._lock:
            self._items.append(record)

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._items.clear()

    def snapshot(self) -> list[RequestRecord]:
        """A copy of the records."""
        with self._lock:
            return list(self._items)

    def filter(
        self, method: str | None = None, path: str | None = None, status: int | None = None
    ) -> list[RequestRecord]:
        """Records with this method / containing this path text / with this status."""
        return [
            r
            for r in self.snapshot()
            if (method is None or r.method == method.upper())
            and (path is None or path in r.path)
            and (status is None or r.status == status)
        ]

    @overload
    def __getitem__(self, index: int) -> RequestRecord: ...
    @overload
    def __getitem__(self, index: slice) -> list[RequestRecord]: ...
    def __getitem__(self, index: int | slice) -> RequestRecord | list[RequestRecord]:
        with self._lock:
            return self._items[index]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(self.snapshot())

    def __repr__(self) -> str:
        return f"RequestLog({len(self)} requests)"


def log_line(remote: str, record: RequestRecord) -> None:
    """Write the one-line access log entry (never any header, so no credentials)."""
    elapsed_ms = (time.time() - record.time) * 1000
    access_logger.info(
        '%s "%s %s" %s in=%d out=%d %.0fms',
        remote,
        record.method,
        record.path,
        record.status or "cut",
        record.bytes_in,
        record.bytes_out,
        elapsed_ms,
    )
