"""The Vault: files, reports and the connection of one encrypted vault folder.

Creating and opening are in opening.py. Layout (docs/vault-format.md has the details; layout.py
the names)::

    <vault>/tellakit-vault.json   {"format": "tellakit-vault", "version": 1} and nothing else
    <vault>/identity.age          X25519 identity, age-encrypted with the passphrase (scrypt)
    <vault>/index.db              SQLCipher 4, raw key = HKDF(identity)
    <vault>/blobs/ab/<random>     one age v1 file per vault file, to the vault recipient

Everything is private (folders 0700, files 0600). Opening never creates index.db and never
deletes a complete blob; see open_vault.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import shutil
import stat
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from tellakit.errors import (
    AgeError,
    ImportRefused,
    IndexStale,
    InvalidTransition,
    MissingTitle,
    TellakitError,
    VaultBusy,
    VaultCorrupted,
    VaultError,
    VaultLocked,
)
from tellakit.reports import (
    BOOKKEEPING_FIELDS,
    SUBMISSION_FIELDS,
    Attachment,
    Report,
    Status,
    check_transition,
)
from tellakit.vault import age, keys, names, rekey
from tellakit.vault.blobs import BlobReader, BlobStore, Listing, PendingBlob, measure
from tellakit.vault.destroy import destroy_vault
from tellakit.vault.fsutil import is_regular, write_new
from tellakit.vault.incoming import IncomingFile
from tellakit.vault.index import Index, now
from tellakit.vault.layout import (
    BLOBS,
    IDENTITY,
    INDEX,
    NEXT_IDENTITY,
    SET_ASIDE,
)
from tellakit.vault.locks import OpenLock
from tellakit.vault.models import ConnectionSettings, LinkStats, VaultFile

OCTET_STREAM = "application/octet-stream"
#: How often an open reader checks that the vault was not destroyed by another process.
DESTROY_CHECK_SECONDS = 0.25

__all__ = ["Recovery", "Vault"]


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


@dataclass(frozen=True)
class Recovery:
    """What ``Vault.recover_orphans`` did: files re-indexed, and blobs it could not read."""

    recovered: list[VaultFile]
    unreadable: list[str]


# --- the vault ---------------------------------------------------------------------------------


class Vault:
    """An open vault. Thread-safe: one lock guards the index connection.

    After ``lock()`` (or ``close()``, or leaving a ``with`` block) every call raises
    VaultLocked; open it again with ``open_vault``. Once the vault is destroyed (``destroy()``
    here, or ``destroy_vault`` in any process) every call raises VaultDestroyed, and so does
    an open reader within DESTROY_CHECK_SECONDS.
    """

    def __init__(self, root: Path, identity: age.X25519Identity, lock: OpenLock) -> None:
        self.path = root
        self._identity: age.X25519Identity | None = identity
        self.recipient = str(identity.recipient())
        self._state = threading.RLock()
        self._open_lock = lock
        self._destroyed = False
        self._imports = 0
        self._checked_at = time.monotonic()
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

    @property
    def destroyed(self) -> bool:
        """True once the vault was destroyed, here or by another process (a cheap check)."""
        return self._destroyed or not os.path.lexists(self.path / IDENTITY)

    def _id(self) -> age.X25519Identity:
        with self._state:
            identity = self._identity
            if identity is None:
                if self._destroyed:
                    raise keys.destroyed(self.path)
                raise VaultLocked("The vault is locked; open it again with the passphrase.")
            if not os.path.lexists(self.path / IDENTITY):  # quick delete, maybe elsewhere
                self._destroyed = True
                self.lock()
                raise keys.destroyed(self.path)
            return identity

    def _reader_locked(self) -> bool:
        """For BlobReader: True when locked; raises VaultDestroyed once destroyed."""
        if self._identity is None:
            if self._destroyed:
                raise keys.destroyed(self.path)
            return True
        moment = time.monotonic()
        if moment - self._checked_at >= DESTROY_CHECK_SECONDS:
            self._checked_at = moment
            if not os.path.lexists(self.path / IDENTITY):
                self._id()
        return False

    # --- lifecycle ----------------------------------------------------------------------------

    def lock(self) -> None:
        """Close the index and forget the keys; later calls raise VaultLocked."""
        with self._state:
            if self._identity is not None:
                self._identity = None
                self._index.close()
            self._open_lock.release()

    close = lock

    def change_passphrase(self, old: str, new: str) -> None:
        """Re-encrypt identity.age under ``new`` (atomic replace); WrongPassphrase if ``old``
        does not open it. Nothing else in the vault changes.

        The old identity.age is freed, not overwritten: a copy of it (a backup, old disk
        blocks) still opens with ``old``. When that matters, use ``rekey``. Two changes at once
        (in any processes) never mix: the second is refused with VaultBusy.
        """
        if not new:
            raise ValueError("The new passphrase must not be empty.")
        identity = self._id()
        current = (self.path / IDENTITY).read_bytes()
        stored, work_factor = keys.decrypt_identities(current, old)
        if stored[0] != identity:
            raise VaultCorrupted("identity.age no longer holds this vault's identity.")
        data = keys.encrypt_identities([identity], new, work_factor)
        keys.replace_identity_file(self.path, IDENTITY, data, expect=current)

    def rekey(self, new_passphrase: str) -> int:
        """Give the vault a new identity under ``new_passphrase``; returns the files re-wrapped.

        Every blob's file key is re-wrapped to the new recipient (new age header, same
        payload, nothing re-encrypted), the index is copied under the new key, identity.age is
        overwritten and replaced. Afterwards the old passphrase, and any old copy of
        identity.age, open nothing of the vault as it is now. Crash-safe: see rekey.py; after
        an interruption, ``open_vault`` with the new passphrase finishes it.

        Needs the vault alone: VaultBusy while another process (or Vault object) has it open
        or an import runs; stop uploads first. VaultError if blobs/ holds orphans (recover
        or set them aside first).
        """
        if not new_passphrase:
            raise ValueError("The new passphrase must not be empty.")
        with self._state:
            old = self._id()
            if self._imports:
                raise VaultBusy("Files are being imported; wait until they are done, then re-key.")
            self._open_lock.exclusive()
            try:
                if self.orphans():
                    raise VaultError(
                        "blobs/ holds files the index does not list; re-index them "
                        "(`tellakit recover`) or set them aside before re-keying."
                    )
                work_factor = keys.work_factor_of(self.path / IDENTITY)
                new = age.X25519Identity.generate()
                data = keys.encrypt_identities([new, old], new_passphrase, work_factor)
                try:
                    keys.replace_identity_file(self.path, NEXT_IDENTITY, data)
                    return self._finish_rekey(new, old, new_passphrase, work_factor)
                except BaseException:
                    self.lock()  # maybe half-way: opening with the new passphrase finishes it
                    raise
            finally:
                if not self.locked:
                    self._open_lock.shared()

    def _finish_rekey(
        self, new: age.X25519Identity, old: age.X25519Identity, passphrase: str, work_factor: int
    ) -> int:
        """Steps 2-5 of rekey.py (the caller holds ``_state`` and the vault alone)."""
        count = rekey.rewrap_blobs(self._index, self._blobs, new, old, self._id)
        if self._identity != new:
            self._index = rekey.swap_index(self.path, self._index, new)
            self._identity = new
            self.recipient = str(new.recipient())
        data = keys.encrypt_identities([new], passphrase, work_factor)
        keys.replace_identity_file(self.path, IDENTITY, data, shred_old=True)
        keys.retire(self.path, NEXT_IDENTITY)
        return count

    def destroy(self) -> None:
        """Quick delete (``destroy_vault``): every identity.age* is overwritten first, so
        everything becomes unreadable at once, then the index and blobs are removed.

        Works on a locked vault too, and again after an interruption. Stop uploads first.
        Never waits for work under way on this object (a re-key in another thread): that work
        fails with VaultDestroyed at its next step.
        """
        self._destroyed = True
        self._lock_if_idle()  # close the index first when nothing runs
        destroy_vault(self.path)
        self._lock_if_idle()  # else the work under way locks it when it fails

    def _lock_if_idle(self) -> None:
        if self._state.acquire(blocking=False):
            try:
                self.lock()
            finally:
                self._state.release()

    def export_identity(self, dest: str | os.PathLike[str]) -> Path:
        """Write the identity in clear (``AGE-SECRET-KEY-1...``) for recovery with ``age -d -i``.

        Anyone holding that file can read every blob: keep it offline. Refuses to overwrite.
        """
        identity = self._id()
        target = Path(dest)
        if target.is_dir():
            target = target / "tellakit-identity.txt"
        write_new(target, keys.identity_text([identity]))
        return target

    # --- what opening finishes, orphans, recovery -----------------------------------------------

    def _tidy(self, *, allow_orphans: bool) -> None:
        """Finish interrupted imports and deletions; refuse a stale index (see open_vault)."""
        keys.shred_leftovers(self.path)
        listing = self._blobs.scan()  # before reading the index: see _orphans
        referenced = self._index.blob_paths()
        deleted = self._index.pending_deletions()
        for rel in deleted - referenced:
            self._blobs.remove(rel)
        if deleted:
            self._index.forget_deletions(deleted)
        self._blobs.tidy(listing, referenced)
        if allow_orphans:
            return
        orphans = self._orphans(listing, referenced | deleted)
        if orphans:
            raise IndexStale(
                f"{self._index.path} does not list {len(orphans)} file(s) stored under "
                f"{self._blobs.root} (an index.db restored from an older backup, or files copied "
                "in); nothing was deleted. Restore the newest index.db, or run `tellakit "
                "recover` to add them back as recovered-<n> (or `tellakit recover --set-aside` "
                "to move them out).",
                orphans,
            )

    def _orphans(self, listing: Listing, known: set[str]) -> list[str]:
        # The listing is taken before the index is read: a blob renamed into place after its
        # row was committed is never mistaken for an orphan, and one deleted meanwhile is gone.
        return sorted(r for r in listing.complete - known if is_regular(self._blobs.path(r)))

    def orphans(self) -> list[str]:
        """Complete blobs (``ab/<name>`` under blobs/) that no index row lists."""
        self._id()
        listing = self._blobs.scan()
        known = self._index.blob_paths() | self._index.pending_deletions()
        return self._orphans(listing, known)

    def recover_orphans(self) -> Recovery:
        """Re-index every orphan this vault's identity decrypts, as ``recovered-<n>``.

        Each one is decrypted once, every chunk authenticated, to record its size and SHA-256;
        nothing decrypted is written. Blobs that do not decrypt are listed as unreadable and
        left where they are (``set_aside_orphans`` moves them out).
        """
        with self._state:
            identity = self._id()
            number = self._index.next_recovered_number()
            recovered: list[VaultFile] = []
            unreadable: list[str] = []
            for rel in self.orphans():
                try:
                    size, sha256, mac = measure(self._blobs.path(rel), identity)
                except (AgeError, OSError):
                    unreadable.append(rel)
                    continue
                vfile = VaultFile(
                    uuid.uuid4().hex, f"recovered-{number}", OCTET_STREAM, size, sha256, now()
                )
                self._index.add_file(vfile, rel, mac)
                recovered.append(vfile)
                number += 1
        return Recovery(recovered, unreadable)

    def set_aside_orphans(self, dest: str | os.PathLike[str] | None = None) -> list[Path]:
        """Move every orphan out of blobs/ into ``dest`` (default ``<vault>/set-aside``).

        They stay age files to this vault's identity (``age -d -i``); quick delete removes
        ``<vault>/set-aside`` too, not another ``dest``. Returns their new paths.
        """
        self._id()
        return self._blobs.set_aside(self.orphans(), Path(dest or self.path / SET_ASIDE))

    # --- files --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _importing(self) -> Iterator[age.X25519Identity]:
        """Count an import in flight (a re-key waits for none)."""
        with self._state:
            identity = self._id()
            self._imports += 1
        try:
            yield identity
        finally:
            with self._state:
                self._imports -= 1

    def import_fileobj(
        self, fileobj: BinaryIO | bytes | bytearray | memoryview, name: str, mime: str | None = None
    ) -> VaultFile:
        """Encrypt a file-like object (or bytes/memoryview, as ipywidgets FileUpload gives).

        ``name`` is checked first (ImportRefused for a NUL, invalid Unicode, more than 255
        bytes): nothing is read or encrypted for a name that would be refused.
        """
        shown, raw = names.checked(name)
        source: Any = (
            _BufferReader(fileobj)
            if isinstance(fileobj, (bytes, bytearray, memoryview))
            else fileobj
        )
        with self._importing() as identity:
            pending = self._blobs.write(source, identity.recipient())
            return self._commit(pending, shown, raw, mime)

    def begin_import(
        self, name: str, mime: str | None = None, *, size: int | None = None
    ) -> IncomingFile:
        """Start a push-style import: ``write`` pieces, then ``commit`` (or ``abort``).

        For data that arrives in pieces (a browser sending slices); see vault/incoming.py.
        ``name`` is checked first (ImportRefused); ``size``, when known, is checked at commit.
        Nothing is visible before commit; the import counts as under way until it ends.
        """
        shown, raw = names.checked(name)
        under_way = contextlib.ExitStack()
        identity = under_way.enter_context(self._importing())
        try:
            return IncomingFile(
                self._blobs,
                identity.recipient(),
                lambda pending: self._commit(pending, shown, raw, mime),
                name=shown,
                expected_size=size,
                is_locked=lambda: self.locked,
                on_end=under_way.close,
            )
        except BaseException:
            under_way.close()
            raise

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
        With ``remove_original``, a symbolic link or a file with other hard links is refused
        (ImportRefused) before anything is read: removing that name would leave the clear text.
        """
        source = Path(path)
        shown, raw = names.checked(source.name if name is None else name)
        flags = os.O_RDONLY | getattr(os, "O_BINARY", 0)
        if remove_original:
            _check_removable(source)
            flags |= getattr(os, "O_NOFOLLOW", 0)
        with open(os.open(source, flags), "rb") as f:
            opened = os.fstat(f.fileno())
            with self._importing() as identity:
                pending = self._blobs.write(f, identity.recipient())
                vfile = self._commit(pending, shown, raw, mime)
        if remove_original:
            current = source.lstat()
            if (current.st_dev, current.st_ino) != (opened.st_dev, opened.st_ino):
                raise ImportRefused(
                    f"{source} was replaced while it was imported; the encrypted copy is kept "
                    "and the file on disk was not removed."
                )
            source.unlink()
        return vfile

    def import_age(
        self, path: str | os.PathLike[str], *, name: str, mime: str | None = None
    ) -> VaultFile:
        """Take in a file someone encrypted with stock ``age -r <vault recipient>``.

        The age file is copied in as it is (no plaintext is written) after every chunk is
        verified with the vault identity; AgeError subclasses say why a file is refused.
        """
        shown, raw = names.checked(name)
        with open(path, "rb") as f, self._importing() as identity:
            pending = self._blobs.adopt(f, identity)
            return self._commit(pending, shown, raw, mime)

    def _commit(
        self, pending: PendingBlob, name: str, raw: bytes | None, mime: str | None
    ) -> VaultFile:
        """Insert the row, then rename the blob into place. An interruption after the commit
        keeps the blob (the next open renames it if this could not)."""
        written = pending.written
        vfile = VaultFile(
            id=uuid.uuid4().hex,
            name=name,
            mime=_guess_mime(name, mime),
            size=written.size,
            sha256=written.sha256,
            imported_at=now(),
        )
        committed: bool | None = False
        try:
            with self._state:
                self._id()
                pending.check_alive()
                self._index.add_file(vfile, written.relpath, written.header_mac, raw)
                committed = True
                pending.publish()
        except BaseException:
            if not committed:
                committed = self._row_exists(vfile.id)  # an interrupt may follow the COMMIT
            if committed is False:
                pending.discard()
            elif committed:
                with contextlib.suppress(OSError):
                    pending.publish()
            raise  # committed None: unknown, the partial stays for the next open to settle
        finally:
            pending.close()
        return vfile

    def _row_exists(self, file_id: str) -> bool | None:
        """Whether the row was committed; None when that cannot be known now."""
        try:
            return self._index.has_file(file_id)
        except Exception:  # a locked or broken index: leave the partial to the next open
            return None

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
        with contextlib.suppress(TellakitError):  # else the next open finishes it
            self._index.forget_deletions([blob])

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
            is_locked=self._reader_locked,
            check_sha256=check_sha256,
        )

    def export_file(self, file_id: str, dest: str | os.PathLike[str]) -> Path:
        """Write a decrypted copy to ``dest`` (a file path, or a folder to put it in).

        In a folder, the file gets its original name (its original bytes when they were not
        UTF-8). The copy appears under its final name only after every byte verified; refuses
        to overwrite an existing file.
        """
        target = Path(dest)
        vfile = self.get_file(file_id)
        if target.is_dir():
            target = target / names.export_name(vfile.name, self._index.raw_name(file_id), file_id)
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
        remote_folder, attempts, verification (the distinct ``Verification`` values of its
        files, comma-separated, None when none was checked yet). One aggregate query; no
        objects are built.
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
        """Move a report to ``status`` if the model allows it (InvalidTransition otherwise).

        The first move out of the draft state (with a connection stored) also fixes the
        report's layout: ``sealed_to`` and ``readable_names`` from the connection.
        """
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
            connection = self._index.get_connection() if current.sealed_to is None else None
            if connection is not None:
                # Leaving the draft state fixes how the report goes to the server: sealed to
                # the connection's recipients of this moment (none: the readable layout).
                fields["sealed_to"] = connection.encrypt_to
                fields["readable_names"] = connection.readable_names
            self._index.update_report(report_id, fields)
        return self._index.get_report(report_id)

    def update_report_submission(self, report_id: str, **fields: Any) -> None:
        """Record submission progress: remote_folder, description_sent, manifest_sent,
        attempts, submitted_at; and the sealed layout's sealed_to, readable_names and
        description_key (engine/sealing.py)."""
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
        """Forget the connection, its credentials and what was learned of its link."""
        self._id()
        self._index.delete_connection()

    def get_link_stats(self, server_url: str) -> LinkStats | None:
        """What the upload engine learned of the link to ``server_url`` (None: nothing yet)."""
        self._id()
        return self._index.get_link_stats(server_url)

    def set_link_stats(self, server_url: str, stats: LinkStats) -> None:
        """Keep what the upload engine learned of the link to ``server_url``."""
        self._id()
        self._index.set_link_stats(server_url, stats)


def _check_removable(source: Path) -> None:
    """remove_original must delete the clear text itself, not a name that points to it."""
    info = source.lstat()
    if stat.S_ISLNK(info.st_mode):
        raise ImportRefused(
            f"{source} is a symbolic link; with remove_original, import the file it points to "
            f"({os.path.realpath(source)}) instead."
        )
    if info.st_nlink > 1:
        raise ImportRefused(
            f"{source} has {info.st_nlink} hard links; removing this one would leave the clear "
            "text on disk. Import it without remove_original and delete every link yourself."
        )
