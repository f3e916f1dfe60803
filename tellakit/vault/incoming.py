"""Push-style import: a file that arrives in pieces (say, slices sent by a browser) is encrypted
into the vault as each piece arrives.

``Vault.begin_import`` opens an ``IncomingFile``; the caller ``write``s pieces in order, then
``commit``s (the blob is sealed and fsynced, and ``Vault`` records it and renames it into place,
as for every import) or ``abort``s (the partial blob is removed). Until commit the data sits only
in the private, locked ``<blob>.partial`` that ``BlobStore.write`` also uses, already encrypted,
so an import cut at any point leaves nothing visible in the vault and no plaintext anywhere on
disk; a partial left by a killed process is swept by the vault's clean-up like any other.

``BlobStore.write`` does the same for a whole readable source; this is its push-driven twin,
for callers that do not own a read loop (pieces arrive on the caller's thread, one at a time).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable

from tellakit.errors import ImportIncomplete, VaultLocked
from tellakit.vault import age
from tellakit.vault.age.header import b64encode
from tellakit.vault.blobs import BlobStore, PendingBlob, WrittenBlob
from tellakit.vault.models import VaultFile

Commit = Callable[[PendingBlob], VaultFile]


class IncomingFile:
    """One import in progress. Thread-safe: ``abort`` may come from another thread (a watchdog)
    while pieces are being written; whichever of commit and abort comes first wins.

    ``expected_size``: when given, ``commit`` refuses a file that did not arrive whole, and
    ``write`` refuses more bytes than announced. ``on_end`` runs once, when the import is
    committed or aborted (the vault stops counting it as under way).
    """

    def __init__(
        self,
        store: BlobStore,
        recipient: age.X25519Recipient,
        commit: Commit,
        *,
        name: str,
        expected_size: int | None = None,
        is_locked: Callable[[], bool] = lambda: False,
        on_end: Callable[[], None] = lambda: None,
    ) -> None:
        self.name = name
        self.expected_size = expected_size
        self.received = 0
        self.state = "open"  # open -> committed | aborted
        self._commit = commit
        self._is_locked = is_locked
        self._on_end = on_end
        self._lock = threading.Lock()
        self._digest = hashlib.sha256()
        self._pending = store.begin()  # the same private, locked .partial as BlobStore.write
        fd = self._pending.fileno()
        self._raw = open(fd, "wb", closefd=False)  # noqa: SIM115 - closed in _close_file
        try:
            self._writer, self._header = age.encrypt(self._raw, [recipient])
        except BaseException:
            self._abort_locked()
            raise

    @property
    def open(self) -> bool:
        """True until the import was committed or aborted."""
        return self.state == "open"

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Encrypt the next piece; returns the bytes received so far."""
        with self._lock:
            self._check_open()
            size = len(memoryview(data).cast("B"))
            if self.expected_size is not None and self.received + size > self.expected_size:
                self._abort_locked()
                raise ImportIncomplete(
                    f"{self.name!r} sent more bytes than its announced size; nothing of it "
                    "was kept."
                )
            try:
                self._digest.update(data)
                self._writer.write(data)
            except BaseException:
                self._abort_locked()
                raise
            self.received += size
            return self.received

    def commit(self) -> VaultFile:
        """Seal, fsync and record the file; refuses (and aborts) a file that arrived short."""
        with self._lock:
            self._check_open()
            if self.expected_size is not None and self.received != self.expected_size:
                self._abort_locked()
                raise ImportIncomplete(
                    f"{self.name!r} arrived incomplete ({self.received} of "
                    f"{self.expected_size} bytes); nothing of it was kept."
                )
            try:
                self._writer.close()
                self._raw.flush()
                os.fsync(self._raw.fileno())
                self._close_file()
            except BaseException:
                self._abort_locked()
                raise
            self.state = "committed"
            self._pending.written = WrittenBlob(
                self._pending.relpath,
                self.received,
                self._digest.hexdigest(),
                b64encode(self._header.mac),
            )
        try:
            return self._commit(self._pending)  # discards the partial itself if refused
        finally:
            self._on_end()

    def abort(self) -> None:
        """Drop everything received (idempotent; nothing happens after a commit)."""
        with self._lock:
            if self.state == "open":
                self._abort_locked()

    def _abort_locked(self) -> None:
        self.state = "aborted"
        self._close_file()
        self._pending.discard()
        self._pending.close()
        self._on_end()

    def _check_open(self) -> None:
        if self.state != "open":
            raise ImportIncomplete(f"The import of {self.name!r} was stopped; nothing was kept.")
        if self._is_locked():
            self._abort_locked()
            raise VaultLocked("The vault was locked during the import; nothing was kept.")

    def _close_file(self) -> None:
        if not self._raw.closed:
            self._raw.close()

    def __enter__(self) -> IncomingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()  # a block left without commit (an exception) keeps nothing
