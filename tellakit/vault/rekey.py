"""Re-key: a new identity for the vault, without re-encrypting any file's payload.

For when an old passphrase, or an old copy of identity.age, may be known to someone: a
passphrase change alone leaves the identity (and so every blob) as it was. A re-key:

1. writes ``identity.age.next``: the new identity and the old one, under the new passphrase
   (an age identity file with two keys: stock ``age -d -i`` reads blobs of either kind);
2. re-wraps every blob's file key to the new recipient: a new age header, the same payload
   (nonce and chunks untouched). Each header is first recorded in ``rekey_blobs`` of the index,
   then written (in place when it has the old header's length, which is the case for every
   blob tellakit wrote; else into ``<blob>.rekey`` and renamed over the blob), then
   ``files.header_mac`` is updated and the journal entry dropped in one transaction;
3. copies the index into a new file under the new identity's key (``sqlcipher_export``),
   fsyncs it and renames it over index.db (the old WAL was checkpointed and closed first);
4. writes identity.age with the new identity alone under the new passphrase: the new file is
   written aside, the old identity.age overwritten in place with random bytes, then replaced;
5. overwrites and removes identity.age.next.

A kill at any step leaves a state the next ``open_vault`` with the **new** passphrase finishes
(it reads identity.age.next, and tries the index under the new key, then the old one): before
step 1 nothing changed (the old passphrase opens the vault); during 2, blobs are a mix, each one
recorded either way in the journal or its header; after 3, the index is re-keyed; during 4 and 5,
identity.age.next still holds both identities. Opening with the old passphrase while
identity.age.next exists is refused with RekeyInterrupted. The re-key needs the vault alone
(the open lock, see locks.py): no other process may have it open.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from tellakit.errors import AgeError, AgeNoMatch, VaultBusy, VaultCorrupted
from tellakit.vault import age, keys
from tellakit.vault.age import unwrap_file_key
from tellakit.vault.age.header import b64encode, parse, serialise
from tellakit.vault.blobs import READ_SIZE, BlobStore
from tellakit.vault.fsutil import create_private, fsync_dir, is_regular, temp_name
from tellakit.vault.index import Index
from tellakit.vault.layout import INDEX

REKEY_SUFFIX = ".rekey"


def rewrap_blobs(
    index: Index,
    blobs: BlobStore,
    new: age.X25519Identity,
    old: age.X25519Identity,
    check: Callable[[], object],
) -> int:
    """Step 2 for every file row; returns how many headers were rewritten now.

    ``check`` runs before each blob (it raises when the vault was destroyed meanwhile).
    """
    journal = index.rekey_journal()
    done = 0
    for blob, mac, name in index.blob_rows():
        check()
        entry = journal.get(blob) or _plan(blobs.path(blob), mac, name, new, old)
        if entry is None:
            continue  # re-wrapped by an earlier, interrupted run
        if blob not in journal:
            index.journal_rekey(blob, *entry)
        _write_header(blobs.path(blob), entry[0], entry[2])
        index.finish_rekey(blob, entry[1])
        done += 1
    return done


def _plan(
    path: Path, mac: str, name: str, new: age.X25519Identity, old: age.X25519Identity
) -> tuple[bytes, str, int] | None:
    """(new header, its MAC, old payload offset), or None if the blob is re-wrapped already."""
    try:
        with open(path, "rb") as f:
            header = parse(f)
    except FileNotFoundError:
        raise VaultCorrupted(f"The blob of {name!r} is missing from the vault.") from None
    except AgeError as exc:
        raise VaultCorrupted(f"The blob of {name!r} failed authentication: {exc}") from None
    if b64encode(header.mac) != mac:
        raise VaultCorrupted(
            f"The blob of {name!r} is not the one the index recorded (swapped or replaced)."
        )
    try:
        try:
            file_key = unwrap_file_key(header, [new])
        except AgeNoMatch:
            file_key = unwrap_file_key(header, [old])
        else:
            if header.verify_mac(file_key):
                return None
        if not header.verify_mac(file_key):
            raise VaultCorrupted(f"The blob of {name!r} failed authentication: header MAC")
    except AgeError as exc:
        raise VaultCorrupted(f"The blob of {name!r} failed authentication: {exc}") from None
    data = serialise([new.recipient().wrap(file_key)], file_key)
    return data, b64encode(parse(io.BytesIO(data)).mac), header.length


def _write_header(path: Path, header: bytes, offset: int) -> None:
    """Put ``header`` in front of the payload that starts at ``offset``; idempotent."""
    with open(path, "rb") as f:
        if f.read(len(header)) == header:
            return  # written before an interruption
    if len(header) == offset:
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            view = memoryview(header)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        return
    tmp = path.with_name(path.name + REKEY_SUFFIX)
    if is_regular(tmp):
        tmp.unlink()
    fd = create_private(tmp)
    try:
        with open(fd, "wb") as out, open(path, "rb") as src:
            out.write(header)
            src.seek(offset)
            shutil.copyfileobj(src, out, READ_SIZE)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def swap_index(root: Path, index: Index, new: age.X25519Identity) -> Index:
    """Step 3: the index under the new key replaces index.db; returns it open."""
    target = root / INDEX
    tmp = temp_name(target)
    os.close(create_private(tmp))
    try:
        index.export_to(tmp, keys.index_key(new))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        index.close()  # the last connection: SQLite checkpoints and removes the WAL
        _drop_empty_wal(root)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(root)
    return Index(target, keys.index_key(new))


def _drop_empty_wal(root: Path) -> None:
    """An old WAL would be replayed into the new file: it must be gone (or empty) by now."""
    wal, shm = root / (INDEX + "-wal"), root / (INDEX + "-shm")
    if is_regular(wal) and wal.stat().st_size:
        raise VaultBusy("index.db is still in use; close the vault everywhere and retry.")
    wal.unlink(missing_ok=True)
    shm.unlink(missing_ok=True)


def remove_leftovers(root: Path) -> None:
    """Temporary index copies of an interrupted step 3 (only while the vault is held alone)."""
    for path in root.glob(INDEX + ".*.tmp"):
        if is_regular(path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
