"""Blobs: each vault file is an age v1 file to the vault recipient under blobs/ab/<random>.

Writing goes to ``<name>.partial``, is fsynced, then renamed; the index row is inserted only
after that, so an interrupted import never leaves a visible half file. Reading goes through
BlobReader, which checks the blob's header MAC against the index (a swapped blob is caught at
once), authenticates every chunk, and (unless the caller opts out, see BlobReader) checks the
SHA-256 at the end of a full read.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tellakit.errors import AgeError, VaultCorrupted, VaultLocked
from tellakit.vault import age
from tellakit.vault.age.header import b64encode
from tellakit.vault.fsutil import fsync_dir
from tellakit.vault.offload import BackgroundSha256, BackgroundWriter

PARTIAL = ".partial"
STALE_SECONDS = 300.0  # partial/orphan blobs older than this are leftovers of a killed import
READ_SIZE = 1024 * 1024


@dataclass(frozen=True)
class WrittenBlob:
    """What an import produced: where, how big, the plaintext SHA-256, the header MAC."""

    relpath: str
    size: int
    sha256: str
    header_mac: str


class BlobStore:
    """The blobs/ folder of one vault."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, relpath: str) -> Path:
        """Absolute path of a blob from its index path (``ab/<random>``)."""
        return self.root / relpath

    def write(self, source: BinaryIO, recipient: age.X25519Recipient) -> WrittenBlob:
        """Encrypt everything ``source.read`` yields into a new blob; constant memory."""
        name = secrets.token_hex(16)
        relpath = f"{name[:2]}/{name}"
        final = self.path(relpath)
        final.parent.mkdir(parents=True, exist_ok=True)
        partial = final.with_name(final.name + PARTIAL)
        # The plaintext is read into the hasher's slots, hashed there on a second thread,
        # and encrypted from the same slot here meanwhile (no copy).
        digest = BackgroundSha256()
        size = 0
        try:
            with open(partial, "xb") as raw:
                # The ciphertext is written to the file on a third thread (and pushed to the
                # disk as it goes, so the fsync below has little left to do).
                out = BackgroundWriter(raw)
                try:
                    writer, header = age.encrypt(out, [recipient])  # type: ignore[arg-type]
                    while True:
                        buf = digest.slot()
                        n = _fill(source, buf)
                        if not n:
                            break
                        digest.submit(buf, n)
                        writer.write(memoryview(buf)[:n])
                        size += n
                    writer.close()
                    out.finish()
                except BaseException:
                    out.abandon()
                    raise
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(partial, final)
            fsync_dir(final.parent)
        except BaseException:
            digest.abandon()
            partial.unlink(missing_ok=True)
            raise
        mac = b64encode(header.mac)
        return WrittenBlob(relpath, size, digest.hexdigest(), mac)

    def adopt(self, source: BinaryIO, identity: age.X25519Identity) -> WrittenBlob:
        """Copy an existing age file (already encrypted to the vault) in as a new blob.

        The copy is decrypted once, chunk by chunk, to verify it and compute the plaintext
        SHA-256; nothing decrypted is written anywhere.
        """
        name = secrets.token_hex(16)
        relpath = f"{name[:2]}/{name}"
        final = self.path(relpath)
        final.parent.mkdir(parents=True, exist_ok=True)
        partial = final.with_name(final.name + PARTIAL)
        digest = hashlib.sha256()
        try:
            with open(partial, "xb") as raw:
                shutil.copyfileobj(source, raw, READ_SIZE)
                raw.flush()
                os.fsync(raw.fileno())
            with open(partial, "rb") as raw:
                reader = age.AgeReader(raw, [identity])
                while True:
                    data = reader.read(READ_SIZE)
                    if not data:
                        break
                    digest.update(data)
                size, mac = reader.size, reader.header.mac
            os.replace(partial, final)
            fsync_dir(final.parent)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return WrittenBlob(relpath, size, digest.hexdigest(), b64encode(mac))

    def remove(self, relpath: str) -> None:
        """Delete a blob (missing is fine)."""
        self.path(relpath).unlink(missing_ok=True)

    def clean(self, referenced: set[str], *, now: float | None = None) -> list[str]:
        """Remove stale partial blobs and blobs no index row points to; returns what went.

        Only files older than STALE_SECONDS go, so an import running in another process at this
        moment is never disturbed.
        """
        now = time.time() if now is None else now
        removed: list[str] = []
        if not self.root.is_dir():
            return removed
        for sub in self.root.iterdir():
            if not sub.is_dir():
                continue
            for path in sub.iterdir():
                rel = f"{sub.name}/{path.name}"
                if rel in referenced:
                    continue
                try:
                    if now - path.stat().st_mtime < STALE_SECONDS:
                        continue
                    path.unlink()
                except FileNotFoundError:
                    continue
                removed.append(rel)
        return removed


def _fill(source: BinaryIO, buf: bytearray) -> int:
    """Fill ``buf`` from ``source`` as far as it goes (readinto when it has it); 0 at EOF."""
    view = memoryview(buf)
    readinto = getattr(source, "readinto", None)
    filled = 0
    while filled < len(buf):
        if readinto is not None:
            try:
                n = readinto(view[filled:])
            except NotImplementedError:  # io.RawIOBase's stub when only read() is written
                readinto = None
                continue
        else:
            data = source.read(len(buf) - filled)
            n = len(data)
            view[filled : filled + n] = data
        if not n:
            break
        filled += n
    return filled


class BlobReader(io.RawIOBase):
    """A seekable, verifying reader of one vault file's plaintext.

    ``read(n)``, ``readinto``, ``seek``, ``tell`` and ``size`` behave as on a regular binary
    file. A chunk that fails authentication raises VaultCorrupted at that chunk; a sequential
    read from 0 to the end also checks the plaintext SHA-256 recorded at import and raises
    VaultCorrupted on the last read if it differs. Nothing is written to disk.

    ``check_sha256=False`` skips that whole-file hash (it costs a SHA-256 pass over the file)
    for callers that check the SHA-256 end to end another way (the engine compares the
    server's hash of the upload with the recorded one). Header MAC, size and per-chunk AEAD
    checks stay: every byte returned is still authenticated as the vault's own.
    """

    def __init__(
        self,
        path: Path,
        identity: age.X25519Identity,
        *,
        header_mac: str,
        size: int,
        sha256: str,
        name: str = "",
        is_locked: Callable[[], bool] = lambda: False,
        check_sha256: bool = True,
    ) -> None:
        super().__init__()
        self._check_sha256 = check_sha256
        self.name = name
        self._is_locked = is_locked
        self._sha256 = sha256
        try:
            f = open(path, "rb")  # noqa: SIM115 - owned by the reader, closed in close()
        except FileNotFoundError:
            raise VaultCorrupted(f"The blob of {name!r} is missing from the vault.") from None
        try:
            self._reader = age.AgeReader(f, [identity])
        except AgeError as exc:
            f.close()
            raise VaultCorrupted(f"The blob of {name!r} failed authentication: {exc}") from exc
        if b64encode(self._reader.header.mac) != header_mac:
            self._reader.close()
            raise VaultCorrupted(
                f"The blob of {name!r} is not the one the index recorded (swapped or replaced)."
            )
        if self._reader.size != size:
            self._reader.close()
            raise VaultCorrupted(
                f"The blob of {name!r} has the wrong size (truncated or extended)."
            )
        self.size = size
        # A running hash of bytes read strictly in order from offset 0; None once we seek away.
        # It runs on a second thread while this one decrypts the next bytes (offload.py).
        self._hash = BackgroundSha256() if check_sha256 else None
        self._hashed = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._reader.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move to a plaintext offset; only the chunk holding it is decrypted on the next read."""
        self._check()
        pos = self._reader.seek(offset, whence)
        if pos != self._hashed:
            if self._hash is not None:
                self._hash.abandon()
            self._hash = BackgroundSha256() if pos == 0 and self._check_sha256 else None
            self._hashed = 0
        return pos

    def _check(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on a closed BlobReader")
        if self._is_locked():
            raise VaultLocked("The vault is locked; open it again to read this file.")

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Fill ``buffer`` with verified plaintext from the current position."""
        self._check()
        start = self._reader.tell()
        try:
            n = self._reader.readinto(buffer)
        except AgeError as exc:
            raise VaultCorrupted(f"The blob of {self.name!r} failed authentication: {exc}") from exc
        if self._hash is not None and start == self._hashed:
            self._hash.update(memoryview(buffer)[:n])
            self._hashed += n
            if self._hashed == self.size:
                done, self._hash = self._hash, None
                if done.hexdigest() != self._sha256:
                    raise VaultCorrupted(
                        f"The content of {self.name!r} does not match its SHA-256."
                    )
        return n

    def readall(self) -> bytes:
        """Read to the end in 1 MiB steps (the default would use 8 KiB reads)."""
        parts: list[bytes] = []
        while True:
            data = self.read(READ_SIZE)
            if not data:
                return b"".join(parts)
            parts.append(data)

    def close(self) -> None:
        """Close the blob file."""
        if not self.closed:
            pending = getattr(self, "_hash", None)  # absent when __init__ failed
            if pending is not None:
                pending.abandon()
                self._hash = None
            self._reader.close()
        super().close()
