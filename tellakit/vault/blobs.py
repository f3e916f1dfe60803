"""Blobs: each vault file is an age v1 file to the vault recipient under blobs/ab/<random>.

An import encrypts into ``<name>.partial`` (created private with O_EXCL, and locked with flock
by the importing process while it lives), fsyncs it, commits the index row, and only then
renames it to ``<name>`` and fsyncs the folder. So a crash before the commit leaves a
``.partial`` no row names (removed by the clean-up once its writer is gone and it is stale), and
a crash after the commit leaves a ``.partial`` a row names (renamed into place on the next
open). A complete blob no row names is therefore never a leftover of tellakit's own work: it is
an *orphan* (an index.db restored from an older backup, a file copied in), reported and never
deleted automatically.

The clean-up touches only names of the layout: folders named with two hex digits (real folders,
never symlinks) holding regular files named with 32 hex digits that start with the folder's
name, or the same with ``.partial``. Anything else under blobs/ is left alone.

Reading goes through BlobReader, which checks the blob's header MAC against the index (a
swapped blob is caught at once), authenticates every chunk, and (unless the caller opts out,
see BlobReader) checks the SHA-256 at the end of a full read.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import secrets
import shutil
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from tellakit.errors import AgeError, VaultCorrupted, VaultError, VaultLocked
from tellakit.vault import age
from tellakit.vault.age.header import b64encode
from tellakit.vault.fsutil import create_private, fsync_dir, is_regular, private_dir
from tellakit.vault.locks import fcntl
from tellakit.vault.offload import BackgroundSha256, BackgroundWriter, fill

PARTIAL = ".partial"
STALE_SECONDS = 300.0  # an unlocked .partial untouched this long belongs to a dead import
READ_SIZE = 1024 * 1024
_LAYOUT_DIR = re.compile(r"[0-9a-f]{2}")
_LAYOUT_FILE = re.compile(r"([0-9a-f]{32})(\.partial)?")


@dataclass(frozen=True)
class WrittenBlob:
    """What an import produced: where, how big, the plaintext SHA-256, the header MAC."""

    relpath: str
    size: int
    sha256: str
    header_mac: str


class PendingBlob:
    """A blob written and fsynced as ``<name>.partial``, locked until ``close()``.

    The caller commits the index row, then calls ``publish()``; ``discard()`` if nothing was
    committed. While it is open, another process's clean-up never removes it.
    """

    def __init__(self, final: Path, fd: int, written: WrittenBlob) -> None:
        self.final = final
        self.partial = final.with_name(final.name + PARTIAL)
        self.written = written
        self._fd: int | None = fd

    @property
    def relpath(self) -> str:
        """The blob's path below blobs/ once published (``ab/<name>``)."""
        return f"{self.final.parent.name}/{self.final.name}"

    def fileno(self) -> int:
        """The open, locked partial file's descriptor (until ``close``)."""
        if self._fd is None:
            raise ValueError("the partial blob is closed")
        return self._fd

    def check_alive(self) -> None:
        """VaultError if the partial file was removed under us (nothing may be committed)."""
        if self._fd is None or os.fstat(self._fd).st_nlink == 0:
            raise VaultError("The encrypted copy was removed while it was written.")

    def publish(self) -> None:
        """Rename into place (someone else's roll-forward may have done it already)."""
        try:
            os.replace(self.partial, self.final)
        except FileNotFoundError:
            if not is_regular(self.final):
                raise
        fsync_dir(self.final.parent)

    def discard(self) -> None:
        """Remove the partial file (nothing refers to it)."""
        self.partial.unlink(missing_ok=True)

    def close(self) -> None:
        """Release the lock."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


@dataclass
class Listing:
    """The layout names found under blobs/ (as ``ab/<name>``), complete and partial."""

    complete: set[str] = field(default_factory=set)
    partial: set[str] = field(default_factory=set)


def _writer_gone(path: Path) -> bool:
    """True unless a live import holds the partial file's lock."""
    if fcntl is None:  # pragma: no cover - Windows: only the age rule applies
        return True
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def measure(path: Path, identity: age.X25519Identity) -> tuple[int, str, str]:
    """(plaintext size, SHA-256 hex, header MAC) of an age file, every chunk authenticated;
    nothing decrypted is kept. AgeError if it does not decrypt with ``identity``."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        reader = age.AgeReader(f, [identity])
        while True:
            data = reader.read(READ_SIZE)
            if not data:
                break
            digest.update(data)
        return reader.size, digest.hexdigest(), b64encode(reader.header.mac)


class BlobStore:
    """The blobs/ folder of one vault."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, relpath: str) -> Path:
        """Absolute path of a blob from its index path (``ab/<random>``)."""
        return self.root / relpath

    def begin(self) -> PendingBlob:
        """A new locked, private ``.partial`` file under a fresh random name, empty (its
        ``written`` is filled in by whoever writes it)."""
        name = secrets.token_hex(16)
        final = self.path(f"{name[:2]}/{name}")
        private_dir(self.root)
        private_dir(final.parent)
        fd = create_private(final.with_name(final.name + PARTIAL))
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return PendingBlob(final, fd, WrittenBlob("", 0, "", ""))

    def write(self, source: BinaryIO, recipient: age.X25519Recipient) -> PendingBlob:
        """Encrypt everything ``source.read`` yields into a new partial blob; constant memory."""
        pending = self.begin()
        fd = pending.fileno()
        # The plaintext is read into the hasher's slots, hashed there on a second thread,
        # and encrypted from the same slot here meanwhile (no copy).
        digest = BackgroundSha256()
        size = 0
        try:
            with open(fd, "wb", closefd=False) as raw:
                # The ciphertext is written to the file on a third thread (and pushed to the
                # disk as it goes, so the fsync below has little left to do).
                out = BackgroundWriter(raw)
                try:
                    writer, header = age.encrypt(out, [recipient])  # type: ignore[arg-type]
                    while True:
                        buf = digest.slot()
                        n = fill(source, buf)
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
                os.fsync(fd)
        except BaseException:
            digest.abandon()
            pending.discard()
            pending.close()
            raise
        pending.written = WrittenBlob(
            pending.relpath, size, digest.hexdigest(), b64encode(header.mac)
        )
        return pending

    def adopt(self, source: BinaryIO, identity: age.X25519Identity) -> PendingBlob:
        """Copy an existing age file (already encrypted to the vault) in as a new partial blob.

        The copy is decrypted once, chunk by chunk, to verify it and compute the plaintext
        SHA-256; nothing decrypted is written anywhere.
        """
        pending = self.begin()
        fd = pending.fileno()
        try:
            with open(fd, "wb", closefd=False) as raw:
                shutil.copyfileobj(source, raw, READ_SIZE)
                raw.flush()
                os.fsync(fd)
            size, sha256, mac = measure(pending.partial, identity)
        except BaseException:
            pending.discard()
            pending.close()
            raise
        pending.written = WrittenBlob(pending.relpath, size, sha256, mac)
        return pending

    def remove(self, relpath: str) -> None:
        """Delete a blob (missing is fine; only layout names, never through a symlink)."""
        path = self.path(relpath)
        if is_regular(path):
            path.unlink(missing_ok=True)

    def scan(self) -> Listing:
        """Every layout name under blobs/; symlinks and stray names are not looked at."""
        listing = Listing()
        try:
            subs = list(os.scandir(self.root))
        except FileNotFoundError:
            return listing
        for sub in subs:
            if not _LAYOUT_DIR.fullmatch(sub.name) or not sub.is_dir(follow_symlinks=False):
                continue
            try:
                entries = list(os.scandir(sub.path))
            except OSError:
                continue
            for entry in entries:
                m = _LAYOUT_FILE.fullmatch(entry.name)
                if not m or not m.group(1).startswith(sub.name):
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue
                rel = f"{sub.name}/{m.group(1)}"
                (listing.partial if m.group(2) else listing.complete).add(rel)
        return listing

    def tidy(self, listing: Listing, referenced: set[str], *, now: float | None = None) -> None:
        """Finish what a crash interrupted; delete only partials of imports that never committed.

        - a ``.partial`` an index row names (the crash came after the commit) is renamed into
          place, if the complete name is not there yet;
        - a ``.partial`` no row names is removed once no live import holds it and it was not
          written for STALE_SECONDS (an import in another process is never disturbed).
        """
        now = time.time() if now is None else now
        for rel in listing.partial:
            partial = self.path(rel + PARTIAL)
            if rel in referenced:
                if rel not in listing.complete:
                    with contextlib.suppress(FileNotFoundError):
                        os.replace(partial, self.path(rel))
                        fsync_dir(partial.parent)
                continue
            try:
                info = partial.lstat()
            except FileNotFoundError:
                continue
            if not stat.S_ISREG(info.st_mode) or now - info.st_mtime < STALE_SECONDS:
                continue
            if _writer_gone(partial):
                partial.unlink(missing_ok=True)

    def set_aside(self, relpaths: Iterable[str], dest: Path) -> list[Path]:
        """Move blobs out of the layout into ``dest`` (created private); their new paths."""
        dest.mkdir(parents=True, exist_ok=True)
        if os.name == "posix":
            os.chmod(dest, 0o700)
        moved = []
        for rel in relpaths:
            source = self.path(rel)
            if not is_regular(source):
                continue
            target = dest / source.name
            if target.exists():
                raise VaultError(f"{target} exists already; choose another folder to set aside.")
            shutil.move(str(source), str(target))
            moved.append(target)
        return moved


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
