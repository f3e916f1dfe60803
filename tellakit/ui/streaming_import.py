"""The kernel's side of the browser import: slices in, encrypted vault files out.

The browser (ui/browser_import.js) reads each chosen file in slices and sends them as binary
buffers of widget messages; this class, free of widgets, answers them. The conversation for
one file (``id`` chosen by the browser)::

    browser                                   kernel
    begin {id, name, size, mime}        ->    opens Vault.begin_import   <- ready | failed
    slice {id, seq, offset} + buffer    ->    encrypts it into the blob  <- ack {seq, received}
      (at most ``window`` slices unacknowledged: constant memory in the kernel and between)
    end {id, size}                      ->    commits: a new vault file  <- done | failed
    cancel {id}                         ->    drops what arrived         <- cancelled

Every failure drops the file whole (``IncomingFile.abort``: nothing half-imported stays in the
vault) and answers ``failed`` with a message for the person. A browser that goes silent (page
closed, connection lost) is noticed by a watchdog thread: after ``stall_seconds`` without a
message the import is aborted the same way.

Thread rules: ``handle`` runs on the kernel's main thread (comm messages), the watchdog on its
own thread. ``_lock`` guards ``_transfers``; the writes themselves run outside it, and an
``IncomingFile`` settles a write racing an abort by itself (whichever comes first wins).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from tellakit.errors import ImportIncomplete, TellakitError
from tellakit.ui.common import describe_error

if TYPE_CHECKING:
    from tellakit.vault import VaultFile

log = logging.getLogger(__name__)

__all__ = ["MiB", "StreamingImports", "Transfer"]

MiB = 1024 * 1024
SLICE_SIZE = 4 * MiB  # the browser's read size and one message's buffer (Jupyter allows 10 MiB)
WINDOW = 4  # slices sent and not yet acknowledged
STALL_SECONDS = 60.0  # silence after which an import counts as abandoned

Message = dict[str, Any]


class Incoming(Protocol):
    """One import in progress (``tellakit.vault.incoming.IncomingFile``)."""

    received: int

    def write(self, data: bytes | bytearray | memoryview) -> int: ...
    def commit(self) -> VaultFile: ...
    def abort(self) -> None: ...


class ImportTarget(Protocol):
    """Where files go: the open vault."""

    def begin_import(
        self, name: str, mime: str | None = None, *, size: int | None = None
    ) -> Incoming: ...


@dataclass
class Transfer:
    """A file on its way in."""

    id: str
    name: str
    size: int
    incoming: Incoming
    last_seen: float
    next_seq: int = 0
    cancelled: bool = field(default=False)

    @property
    def received(self) -> int:
        return self.incoming.received


class StreamingImports:
    """Answers the browser's import messages; many files may be under way at once.

    ``target()`` gives the vault when a file begins (it may have been locked since the form
    opened). ``send`` carries an answer to the browser. ``on_imported(vfile)`` runs once a file
    is in the vault; ``on_failed(name, message)`` when one was refused, cut or cancelled.
    """

    def __init__(
        self,
        target: Callable[[], ImportTarget],
        *,
        send: Callable[[Message], None],
        on_imported: Callable[[VaultFile], None],
        on_failed: Callable[[str, str], None],
        stall_seconds: float = STALL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._target = target
        self._send = send
        self._on_imported = on_imported
        self._on_failed = on_failed
        self.stall_seconds = stall_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._transfers: dict[str, Transfer] = {}
        self._watchdog: threading.Thread | None = None
        self._wake = threading.Event()
        self._closed = False

    @property
    def transfers(self) -> list[Transfer]:
        """Files under way now."""
        with self._lock:
            return list(self._transfers.values())

    # --- messages from the browser (the kernel's main thread) -------------------------------

    def handle(self, content: Message, buffers: Sequence[memoryview | bytes] = ()) -> None:
        """One message from the browser."""
        kind, tid = content.get("kind"), str(content.get("id", ""))
        if kind == "begin":
            self._begin(tid, content)
            return
        with self._lock:
            transfer = self._transfers.get(tid)
        if transfer is None:
            return  # already finished or dropped (a late slice after a cancel or a stall)
        transfer.last_seen = self._clock()
        if kind == "slice":
            self._slice(transfer, content, buffers)
        elif kind == "end":
            self._end(transfer, content)
        elif kind == "cancel":
            self._drop(transfer, f"Cancelled: nothing of {transfer.name} was kept.", "cancelled")

    def _begin(self, tid: str, content: Message) -> None:
        name = str(content.get("name") or "").strip()
        size = content.get("size")
        if not tid or not name or not isinstance(size, int) or size < 0:
            self._send({"kind": "failed", "id": tid, "message": "A file without a name or size."})
            return
        try:
            if self._closed:
                raise ImportIncomplete(f"The form was closed; {name} was not imported.")
            incoming = self._target().begin_import(
                name, str(content.get("mime") or "") or None, size=size
            )
        except (TellakitError, OSError) as exc:
            self._fail_message(tid, name, describe_error(exc))
            return
        with self._lock:
            self._transfers[tid] = Transfer(tid, name, size, incoming, self._clock())
            self._start_watchdog()
        self._send({"kind": "ready", "id": tid})

    def _slice(self, transfer: Transfer, content: Message, buffers: Sequence[Any]) -> None:
        if (
            content.get("seq") != transfer.next_seq
            or content.get("offset") != transfer.received
            or len(buffers) != 1
        ):
            self._fail(
                transfer,
                ImportIncomplete(
                    f"A piece of {transfer.name} was lost on the way; nothing of it was kept."
                ),
            )
            return
        try:
            received = transfer.incoming.write(buffers[0])
        except (TellakitError, OSError) as exc:
            self._fail(transfer, exc)
            return
        transfer.next_seq += 1
        self._send({"kind": "ack", "id": transfer.id, "seq": content["seq"], "received": received})

    def _end(self, transfer: Transfer, content: Message) -> None:
        with self._lock:
            self._transfers.pop(transfer.id, None)
        try:
            if content.get("size") != transfer.size:
                raise ImportIncomplete(
                    f"{transfer.name} changed size while it was being read; nothing of it was "
                    "kept. Add it again."
                )
            vfile = transfer.incoming.commit()
        except (TellakitError, OSError) as exc:
            transfer.incoming.abort()
            self._fail_message(transfer.id, transfer.name, describe_error(exc))
            return
        self._send({"kind": "done", "id": transfer.id, "file_id": vfile.id, "size": vfile.size})
        self._on_imported(vfile)

    # --- dropping a transfer ----------------------------------------------------------------

    def _fail(self, transfer: Transfer, error: BaseException) -> None:
        self._drop(transfer, describe_error(error), "failed")

    def _drop(self, transfer: Transfer, message: str, kind: str) -> None:
        with self._lock:
            if self._transfers.pop(transfer.id, None) is None:
                return  # someone else (the watchdog, a cancel) dropped it first
        transfer.incoming.abort()
        if kind == "cancelled":
            self._send({"kind": "cancelled", "id": transfer.id, "message": message})
        else:
            self._fail_message(transfer.id, transfer.name, message)

    def _fail_message(self, tid: str, name: str, message: str) -> None:
        self._send({"kind": "failed", "id": tid, "message": message})
        self._on_failed(name, message)

    def abort_all(self) -> None:
        """Drop every transfer and refuse new ones (the form is going away)."""
        self._closed = True
        for transfer in self.transfers:
            self._drop(
                transfer,
                f"The form was closed; nothing of {transfer.name} was kept.",
                "failed",
            )
        self._wake.set()

    # --- the watchdog -----------------------------------------------------------------------

    def check_stalled(self) -> None:
        """Abort every transfer the browser has been silent about for ``stall_seconds``."""
        now = self._clock()
        for transfer in self.transfers:
            if now - transfer.last_seen >= self.stall_seconds:
                error = ImportIncomplete(
                    f"{transfer.name} stopped arriving from the browser (page closed or "
                    "connection lost); nothing of it was kept. Add it again."
                )
                self._fail(transfer, error)

    def _start_watchdog(self) -> None:  # called with _lock held
        if self._watchdog is None or not self._watchdog.is_alive():
            self._wake.clear()
            self._watchdog = threading.Thread(
                target=self._watch, name="tellakit-import-watchdog", daemon=True
            )
            self._watchdog.start()

    def _watch(self) -> None:
        step = max(0.05, min(5.0, self.stall_seconds / 4))
        while not self._wake.wait(step):
            try:
                self.check_stalled()
            except Exception:
                log.exception("The import watchdog failed.")
            with self._lock:
                if not self._transfers:
                    self._watchdog = None
                    return
