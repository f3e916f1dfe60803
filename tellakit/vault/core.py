"""The Vault: files, reports and the connection of one encrypted vault folder.

Layout (docs/vault-format.md has the details)::

    <vault>/tellakit-vault.json   {"format": "tellakit-vault", "version": 1} and nothing else
    <vault>/identity.age          X25519 identity, age-encrypted with the passphrase (scrypt)
    <vault>/index.db              SQLCipher 4, raw key = HKDF(identity)
    <vault>/blobs/ab/<random>     one age v1 file per vault file, to the vault recipient
"""

from __future__ import annotations

import contextlib
import json
import mimetypes
import os
import shutil
import threading
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from tellakit.errors import (
    InvalidTransition,
    MissingTitle,
    VaultCorrupted,
    VaultExists,
    VaultLocked,
    VaultNotFound,
)
from tellakit.reports import (
    BOOKKEEPING_FIELDS,
    SUBMISSION_FIELDS,
    Attachment,
    Report,
    Status,
    check_transition,
)
from tellakit.vault import age, keys
from tellakit.vault.blobs import BlobReader, BlobStore, WrittenBlob
from tellakit.vault.fsutil import fsync_dir
from tellakit.vault.incoming import IncomingFile
from tellakit.vault.index import Index, now
from tellakit.vault.models import ConnectionSettings, VaultFile

FORMAT_NAME = "tellakit-vault"
FORMAT_VERSION = 1
MARKER = "tellakit-vault.json"
IDENTITY = "identity.age"
INDEX = "index.db"
BLOBS = "blobs"
OCTET_STREAM = "application/octet-stream"


class _BufferReader:
    """A read() view over bytes or a memoryview, without copying the whole buffer."""

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._view = memoryview(data).cast("B")
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        end = len(self._view) if n < 0 else min(len(self._view), self._pos + n)
        data = self._view[self._pos : end].tobytes()
        self._pos = end
        return data


def _statuses(status: Status | Iterable[Status] | None) -> list[Status] | None:
    if status is None:
        return None
    if isinstance(status, (Status, str)):
        return [Status(status)]
    return [Status(s) for s in status]


def _guess_mime(name: str, mime: str | None) -> str:
    return mime or mimetypes.guess_type(name)[0] or OCTET_STREAM


def create_vault(
    path: str | os.PathLike[str], passphrase: str, *, work_factor: int = age.DEFAULT_WORK_FACTOR
) -> Vault:
    """Create a new vault folder protected by ``passphrase`` and return it open.

    ``work_factor`` is the scrypt log2(N) for identity.age: 18 (age's default, about 256 MiB
    and a second to unlock) for real vaults; tests pass a small one.
    Raises VaultExists if ``path`` holds a vault or any other files.
    """
    root = Path(path)
    if (root / MARKER).exists():
        raise VaultExists(f"A vault already exists at {root}.")
    if root.exists() and any(root.iterdir()):
        raise VaultExists(f"{root} is not empty; choose a new folder for the vault.")
    if not passphrase:
        raise ValueError("The vault needs a non-empty passphrase.")
    root.mkdir(parents=True, exist_ok=True)
    (root / BLOBS).mkdir(exist_ok=True)
    identity = age.X25519Identity.generate()
    keys.write_identity(root / IDENTITY, identity, passphrase, work_factor)
    Index(root / INDEX, keys.index_key(identity)).close()
    marker = {"format": FORMAT_NAME, "version": FORMAT_VERSION}
    (root / MARKER).write_text(json.dumps(marker) + "\n", encoding="ascii")
    fsync_dir(root)
    return Vault(root, identity)


def open_vault(path: str | os.PathLike[str], passphrase: str) -> Vault:
    """Open an existing vault (VaultNotFound, WrongPassphrase, VaultCorrupted)."""
    root = Path(path)
    try:
        marker = json.loads((root / MARKER).read_text(encoding="ascii"))
    except FileNotFoundError:
        raise VaultNotFound(f"No tellakit vault at {root}.") from None
    except ValueError:
        raise VaultCorrupted(f"{root / MARKER} is not valid JSON.") from None
    if not isinstance(marker, dict) or marker.get("format") != FORMAT_NAME:
        raise VaultCorrupted(f"{root / MARKER} does not describe a tellakit vault.")
    if marker.get("version") != FORMAT_VERSION:
        raise VaultCorrupted(f"Vault format version {marker.get('version')} is not supported.")
    if not (root / IDENTITY).exists():
        raise VaultCorrupted(f"{root / IDENTITY} is missing (a destroyed vault cannot be opened).")
    identity, _ = keys.read_identity(root / IDENTITY, passphrase)
    vault = Vault(root, identity)
    vault._blobs.clean(vault._index.blob_paths())
    return vault


class Vault:
    """An open vault. Thread-safe: one lock guards the index connection.

    After ``lock()`` (or ``close()``, or leaving a ``with`` block) every call raises
    VaultLocked; open it again with ``open_vault``.
    """

    def __init__(self, root: Path, identity: age.X25519Identity) -> None:
        self.path = root
        self._identity: age.X25519Identity | None = identity
        self.recipient = str(identity.recipient())
        self._state = threading.RLock()
        self._index: Index = Index(root / INDEX, keys.index_key(identity))
        self._blobs = BlobStore(root / BLOBS)

    def __repr__(self) -> str:
        state = "locked" if self.locked else "open"
        return f"<Vault {str(self.path)!r} {state}>"

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def locked(self) -> bool:
        """True once the vault was locked, closed or destroyed."""
        return self._identity is None

    def _id(self) -> age.X25519Identity:
        identity = self._identity
        if identity is None:
            raise VaultLocked("The vault is locked; open it again with the passphrase.")
        return identity

    # --- lifecycle ----------------------------------------------------------------------------

    def lock(self) -> None:
        """Close the index and forget the keys; later calls raise VaultLocked."""
        with self._state:
            if self._identity is not None:
                self._identity = None
                self._index.close()

    close = lock

    def change_passphrase(self, old: str, new: str) -> None:
        """Re-encrypt identity.age under ``new`` (atomic replace); WrongPassphrase if ``old``
        does not open it. Nothing else in the vault changes."""
        if not new:
            raise ValueError("The new passphrase must not be empty.")
        with self._state:
            identity = self._id()
            stored, work_factor = keys.read_identity(self.path / IDENTITY, old)
            if stored != identity:
                raise VaultCorrupted("identity.age no longer holds this vault's identity.")
            keys.write_identity(self.path / IDENTITY, identity, new, work_factor)

    def destroy(self) -> None:
        """Quick delete: identity.age is overwritten and removed first (everything becomes
        unreadable at once), then the index and blobs are removed."""
        with self._state:
            self._id()
            self.lock()
            keys.overwrite_and_remove(self.path / IDENTITY)
            fsync_dir(self.path)
            for name in (INDEX, INDEX + "-wal", INDEX + "-shm", IDENTITY + ".tmp"):
                (self.path / name).unlink(missing_ok=True)
            shutil.rmtree(self.path / BLOBS, ignore_errors=True)
            (self.path / MARKER).unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # the folder holds files not ours: leave them
                self.path.rmdir()

    def export_identity(self, dest: str | os.PathLike[str]) -> Path:
        """Write the identity in clear (``AGE-SECRET-KEY-1...``) for recovery with ``age -d -i``.

        Anyone holding that file can read every blob: keep it offline. Refuses to overwrite.
        """
        identity = self._id()
        target = Path(dest)
        if target.is_dir():
            target = target / "tellakit-identity.txt"
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(keys.identity_text(identity))
        return target

    # --- files --------------------------------------------------------------------------------

    def import_fileobj(
        self, fileobj: BinaryIO | bytes | bytearray | memoryview, name: str, mime: str | None = None
    ) -> VaultFile:
        """Encrypt a file-like object (or bytes/memoryview, as ipywidgets FileUpload gives)."""
        identity = self._id()
        source: Any = (
            _BufferReader(fileobj)
            if isinstance(fileobj, (bytes, bytearray, memoryview))
            else fileobj
        )
        written = self._blobs.write(source, identity.recipient())
        return self._record(written, name, mime)

    def begin_import(
        self, name: str, mime: str | None = None, *, size: int | None = None
    ) -> IncomingFile:
        """Start a push-style import: ``write`` pieces, then ``commit`` (or ``abort``).

        For data that arrives in pieces (a browser sending slices); see vault/incoming.py.
        ``size``, when known, is checked at commit. Nothing is visible before commit.
        """
        identity = self._id()
        return IncomingFile(
            self._blobs,
            identity.recipient(),
            lambda written: self._record(written, name, mime),
            name=name,
            expected_size=size,
            is_locked=lambda: self.locked,
        )

    def import_bytes(self, data: bytes, name: str, mime: str | None = None) -> VaultFile:
        """Encrypt ``data`` into the vault as a file called ``name``."""
        return self.import_fileobj(data, name, mime)

    def import_path(
        self,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        mime: str | None = None,
        remove_original: bool = False,
    ) -> VaultFile:
        """Encrypt a file from disk, streaming (constant memory).

        The original is left alone unless ``remove_original``; then it is deleted once the
        encrypted copy is committed (deleted, not wiped: the filesystem may keep its blocks).
        """
        source = Path(path)
        with open(source, "rb") as f:
            vfile = self.import_fileobj(f, name or source.name, mime)
        if remove_original:
            source.unlink()
        return vfile

    def import_age(
        self, path: str | os.PathLike[str], *, name: str, mime: str | None = None
    ) -> VaultFile:
        """Take in a file someone encrypted with stock ``age -r <vault recipient>``.

        The age file is copied in as it is (no plaintext is written) after every chunk is
        verified with the vault identity; AgeError subclasses say why a file is refused.
        """
        identity = self._id()
        with open(path, "rb") as f:
            written = self._blobs.adopt(f, identity)
        return self._record(written, name, mime)

    def _record(self, written: WrittenBlob, name: str, mime: str | None) -> VaultFile:
        vfile = VaultFile(
            id=uuid.uuid4().hex,
            name=name,
            mime=_guess_mime(name, mime),
            size=written.size,
            sha256=written.sha256,
            imported_at=now(),
        )
        try:
            with self._state:
                self._id()
                self._index.add_file(vfile, written.relpath, written.header_mac)
        except BaseException:
            self._blobs.remove(written.relpath)
            raise
        return vfile

    def get_file(self, file_id: str) -> VaultFile:
        """A vault file by id (AttachmentNotFound if unknown)."""
        self._id()
        return self._index.get_file(file_id)[0]

    def list_files(self) -> list[VaultFile]:
        """Every file in the vault, oldest first."""
        self._id()
        return self._index.list_files()

    def delete_file(self, file_id: str) -> None:
        """Remove a file from the index, then its blob (refused while a report uses it)."""
        self._id()
        blob = self._index.delete_file(file_id)
        self._blobs.remove(blob)

    def open_file(self, file_id: str, *, check_sha256: bool = True) -> BlobReader:
        """A seekable reader of a file's plaintext; every chunk is authenticated.

        With ``check_sha256=False`` a full sequential read does not re-hash the plaintext
        against the SHA-256 recorded at import (see BlobReader): only for callers that check
        the SHA-256 end to end themselves, such as the engine's upload verification.
        """
        identity = self._id()
        vfile, blob, mac = self._index.get_file(file_id)
        return BlobReader(
            self._blobs.path(blob),
            identity,
            header_mac=mac,
            size=vfile.size,
            sha256=vfile.sha256,
            name=vfile.name,
            is_locked=lambda: self.locked,
            check_sha256=check_sha256,
        )

    def export_file(self, file_id: str, dest: str | os.PathLike[str]) -> Path:
        """Write a decrypted copy to ``dest`` (a file path, or a folder to put it in).

        The copy appears under its final name only after every byte verified; refuses to
        overwrite an existing file.
        """
        target = Path(dest)
        vfile = self.get_file(file_id)
        if target.is_dir():
            target = target / (Path(vfile.name).name or file_id)
        if target.exists():
            raise FileExistsError(f"{target} exists; choose another destination.")
        partial = target.with_name(target.name + ".partial")
        try:
            with self.open_file(file_id) as reader, open(partial, "xb") as out:
                shutil.copyfileobj(reader, out, 1024 * 1024)
            os.replace(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return target

    # --- reports ------------------------------------------------------------------------------

    def _attachments(self, file_ids: Iterable[str]) -> list[Attachment]:
        out = []
        for position, file_id in enumerate(file_ids):
            f = self._index.get_file(file_id)[0]
            out.append(
                Attachment(uuid.uuid4().hex, f.id, f.name, f.mime, f.size, f.sha256, position)
            )
        return out

    def create_report(
        self, title: str, description: str = "", file_ids: Sequence[str] = ()
    ) -> Report:
        """A new draft report (MissingTitle if the title is blank)."""
        self._id()
        if not title or not title.strip():
            raise MissingTitle("A report needs a title before it can be saved.")
        stamp = now()
        report = Report(
            id=uuid.uuid4().hex,
            title=title.strip(),
            description=description,
            status=Status.DRAFT,
            reason=None,
            retryable=None,
            created_at=stamp,
            updated_at=stamp,
            submitted_at=None,
            remote_folder=None,
            description_sent=False,
            manifest_sent=False,
            attempts=0,
            attachments=self._attachments(file_ids),
        )
        self._index.insert_report(report)
        return report

    def save_report(self, report: Report) -> Report:
        """Save a draft's title, description and attachment list/order (drafts only)."""
        self._id()
        if not report.title or not report.title.strip():
            raise MissingTitle("A report needs a title before it can be saved.")
        with self._index.transaction():  # one lock-held unit: check, then write
            stored = self._index.get_report(report.id)
            if stored.status is not Status.DRAFT:
                raise InvalidTransition(
                    stored.status.value, Status.DRAFT.value, "only drafts can be edited"
                )
            known = {a.id: a for a in stored.attachments}
            attachments = []
            for position, a in enumerate(report.attachments):
                f = self._index.get_file(a.file_id)[0]  # the file must still be in the vault
                kept = known.get(a.id)
                if kept is not None and kept.file_id == a.file_id:
                    kept.position, kept.name = position, a.name or kept.name
                    attachments.append(kept)
                else:
                    name = a.name or f.name
                    mime = a.mime or f.mime
                    attachments.append(
                        Attachment(
                            a.id or uuid.uuid4().hex, f.id, name, mime, f.size, f.sha256, position
                        )
                    )
            stored.title = report.title.strip()
            stored.description = report.description
            stored.attachments = attachments
            stored.updated_at = now()
            self._index.update_report_draft(stored)
        return self._index.get_report(report.id)

    def get_report(self, report_id: str) -> Report:
        """A report by id (ReportNotFound if unknown)."""
        self._id()
        return self._index.get_report(report_id)

    def list_reports(self, status: Status | Iterable[Status] | None = None) -> list[Report]:
        """Reports, newest first; ``status`` filters by one status or several."""
        self._id()
        return self._index.list_reports(_statuses(status))

    def report_rows(self, status: Status | Iterable[Status] | None = None) -> list[tuple[Any, ...]]:
        """A light listing for tables: one tuple per report, newest first, as list_reports.

        Fields in order (``REPORT_ROW_FIELDS``): id, title, status (its string value), reason,
        created_at, updated_at, submitted_at (ISO 8601 UTC strings, None when unset), files
        (attachment count), bytes (their total size), bytes_sent (as ``Report.bytes_sent``),
        remote_folder, attempts. One aggregate query; no objects are built.
        """
        self._id()
        return self._index.report_rows(_statuses(status))

    def delete_report(self, report_id: str) -> None:
        """Delete a report locally (its vault files stay; the server's copy is untouched)."""
        self._id()
        self._index.delete_report(report_id)

    def set_status(
        self,
        report_id: str,
        status: Status,
        *,
        reason: str | None = None,
        retryable: bool | None = None,
    ) -> Report:
        """Move a report to ``status`` if the model allows it (InvalidTransition otherwise)."""
        self._id()
        status = Status(status)
        with self._index.transaction():
            current = self._index.get_report(report_id)
            check_transition(current.status, status)
            fields: dict[str, Any] = {
                "status": status,
                "reason": reason,
                "retryable": retryable,
                "updated_at": now(),
            }
            if status is Status.SUBMITTED and current.submitted_at is None:
                fields["submitted_at"] = fields["updated_at"]
            self._index.update_report(report_id, fields)
        return self._index.get_report(report_id)

    def update_report_submission(self, report_id: str, **fields: Any) -> None:
        """Record submission progress: remote_folder, description_sent, manifest_sent,
        attempts, submitted_at."""
        self._id()
        unknown = set(fields) - SUBMISSION_FIELDS
        if unknown:
            raise TypeError(f"Not a submission field: {', '.join(sorted(unknown))}")
        if fields:
            self._index.update_report(report_id, {**fields, "updated_at": now()})

    def update_attachment(self, report_id: str, attachment_id: str, **fields: Any) -> None:
        """Record an attachment's submission bookkeeping (any Attachment bookkeeping field)."""
        self._id()
        unknown = set(fields) - BOOKKEEPING_FIELDS
        if unknown:
            raise TypeError(f"Not an attachment bookkeeping field: {', '.join(sorted(unknown))}")
        if fields:
            self._index.update_attachment(report_id, attachment_id, fields)

    # --- the connection -----------------------------------------------------------------------

    def set_connection(self, settings: ConnectionSettings) -> None:
        """Store the single Nextcloud connection (replacing any previous one)."""
        self._id()
        self._index.set_connection(settings)

    def get_connection(self) -> ConnectionSettings | None:
        """The stored connection, or None."""
        self._id()
        return self._index.get_connection()

    def delete_connection(self) -> None:
        """Forget the connection and its credentials."""
        self._id()
        self._index.delete_connection()
