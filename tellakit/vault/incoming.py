"""Push-style import: a file that arrives in pieces (say, slices sent by a browser) is encrypted
into the vault as each piece arrives.

``Vault.begin_import`` opens an ``IncomingFile``; the caller ``write``s pieces in order, then
``commit``s (the blob is sealed, fsynced, renamed and recorded in the index) or ``abort``s
(the partial blob is removed). Until commit the data sits only in ``<blob>.partial``, already
encrypted, so an import cut at any point leaves nothing visible in the vault and no plaintext
anywhere on disk; a partial left by a killed process is swept by ``BlobStore.clean``.

``BlobStore.write`` does the same for a whole readable source; this is its push-driven twin,
for callers that do not own a read loop.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
from collections.abc import Callable
from typing import BinaryIO

from tellakit.errors import ImportIncomplete, VaultLocked
from tellakit.vault import age
from tellakit.vault.age.header import b64encode
from tellakit.vault.blobs import PARTIAL, BlobStore, WrittenBlob
from tellakit.vault.fsutil import fsync_dir
from tellakit.vault.models import VaultFile

Record = Callable[[WrittenBlob], VaultFile]


class IncomingFile:
    """One import in progress. Thread-safe: ``abort`` may come from another thread (a watchdog)
    while pieces are being written; whichever of commit and abort comes first wins.

    ``expected_size``: when given, ``commit`` refuses a file that did not arrive whole, and
    ``write`` refuses more bytes than announced.
    """

    def __init__(
        self,
        store: BlobStore,
        recipient: age.X25519Recipient,
        record: Record,
        *,
        name: str,
        expected_size: int | None = None,
        is_locked: Callable[[], bool] = lambda: False,
    ) -> None:
        self.name = name
        self.expected_size = expected_size
        self.received = 0
        self._record = record
        self._is_locked = is_locked
        self._lock = threading.Lock()
        token = secrets.token_hex(16)
        self.relpath = f"{token[:2]}/{token}"
        final = store.path(self.relpath)
        final.parent.mkdir(parents=True, exist_ok=True)
        self._final = final
        self._partial = final.with_name(final.name + PARTIAL)
        self._digest = hashlib.sha256()
        self.state = "open"  # open -> committed | aborted
        self._raw: BinaryIO | None = open(self._partial, "xb")  # noqa: SIM115 - closed in _end
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
                assert self._raw is not None
                self._writer.close()
                self._raw.flush()
                os.fsync(self._raw.fileno())
                self._end()
                os.replace(self._partial, self._final)
                fsync_dir(self._final.parent)
            except BaseException:
                self._abort_locked()
                raise
            self.state = "committed"
        written = WrittenBlob(
            self.relpath, self.received, self._digest.hexdigest(), b64encode(self._header.mac)
        )
        return self._record(written)  # removes the blob itself if the index refuses it

    def abort(self) -> None:
        """Drop everything received (idempotent; nothing happens after a commit)."""
        with self._lock:
            if self.state == "open":
                self._abort_locked()

    def _abort_locked(self) -> None:
        self.state = "aborted"
        self._end()
        self._partial.unlink(missing_ok=True)

    def _check_open(self) -> None:
        if self.state != "open":
            raise ImportIncomplete(f"The import of {self.name!r} was stopped; nothing was kept.")
        if self._is_locked():
            self._abort_locked()
            raise VaultLocked("The vault was locked during the import; nothing was kept.")

    def _end(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    def __enter__(self) -> IncomingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()  # a block left without commit (an exception) keeps nothing
