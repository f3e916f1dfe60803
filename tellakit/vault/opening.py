"""Creating and opening vaults: ``create_vault``, ``open_vault``, ``rebuild_index``.

Opening never creates index.db and never deletes a complete blob. It finishes what a crash
interrupted (an import committed but not renamed, a deletion committed but not unlinked, a
re-key) and removes ``.partial`` files of imports that never committed.
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from tellakit.errors import (
    IndexForeign,
    IndexMissing,
    RekeyInterrupted,
    VaultCorrupted,
    VaultError,
    VaultExists,
    VaultNotFound,
    WrongPassphrase,
)
from tellakit.vault import age, keys, rekey
from tellakit.vault.core import Vault
from tellakit.vault.fsutil import fsync_dir, private_dir, write_new
from tellakit.vault.index import Index
from tellakit.vault.layout import (
    BLOBS,
    FORMAT_NAME,
    FORMAT_VERSION,
    IDENTITY,
    INDEX,
    MARKER,
    NEXT_IDENTITY,
)
from tellakit.vault.locks import OpenLock


def create_vault(
    path: str | os.PathLike[str], passphrase: str, *, work_factor: int = age.DEFAULT_WORK_FACTOR
) -> Vault:
    """Create a new vault folder protected by ``passphrase`` and return it open.

    ``work_factor`` is the scrypt log2(N) for identity.age: 18 (age's default, about 256 MiB
    and a second to unlock) for real vaults; tests pass a small one. The folder is 0700 and
    every file 0600, whatever the umask.
    Raises VaultExists if ``path`` holds a vault or any other files.
    """
    root = Path(path)
    if (root / MARKER).exists():
        raise VaultExists(f"A vault already exists at {root}.")
    if root.exists() and any(root.iterdir()):
        raise VaultExists(f"{root} is not empty; choose a new folder for the vault.")
    if not passphrase:
        raise ValueError("The vault needs a non-empty passphrase.")
    root.parent.mkdir(parents=True, exist_ok=True)
    private_dir(root)
    if os.name == "posix":
        os.chmod(root, 0o700)  # also when it existed (empty)
    private_dir(root / BLOBS)
    identity = age.X25519Identity.generate()
    write_new(root / IDENTITY, keys.encrypt_identities([identity], passphrase, work_factor))
    Index.create(root / INDEX, keys.index_key(identity)).close()
    marker = {"format": FORMAT_NAME, "version": FORMAT_VERSION}
    write_new(root / MARKER, (json.dumps(marker) + "\n").encode("ascii"))
    fsync_dir(root)
    lock = OpenLock.acquire(root / MARKER)
    try:
        return Vault(root, identity, lock)
    except BaseException:
        lock.release()
        raise


def _check_marker(root: Path) -> None:
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


def open_vault(
    path: str | os.PathLike[str], passphrase: str, *, allow_orphans: bool = False
) -> Vault:
    """Open an existing vault.

    Raises VaultNotFound, WrongPassphrase, VaultCorrupted; IndexMissing / IndexForeign when
    index.db is missing, empty or not this vault's (it is never created here); IndexStale when
    blobs/ holds complete files the index does not list, unless ``allow_orphans`` (then
    ``orphans()`` lists them: ``recover_orphans`` or ``set_aside_orphans``); RekeyInterrupted
    when a re-key stopped half-way and ``passphrase`` is the old one (the new one finishes it);
    VaultBusy while another process re-keys it.

    Opening finishes what a crash interrupted (an import committed but not renamed, a deletion
    committed but not unlinked, a re-key) and removes ``.partial`` files of imports that never
    committed. Nothing else is ever deleted.
    """
    root = Path(path)
    _check_marker(root)
    lock = OpenLock.acquire(root / MARKER)
    try:
        vault = _unlock(root, passphrase, lock)
        try:
            vault._tidy(allow_orphans=allow_orphans)
        except BaseException:
            vault.close()
            raise
    except BaseException:
        lock.release()
        raise
    return vault


def _unlock(root: Path, passphrase: str, lock: OpenLock) -> Vault:
    if not (root / IDENTITY).exists():
        raise VaultCorrupted(f"{root / IDENTITY} is missing (a destroyed vault cannot be opened).")
    pending = root / NEXT_IDENTITY
    if not pending.exists():
        identity, _ = keys.read_identity(root / IDENTITY, passphrase)
        return Vault(root, identity, lock)
    try:
        identities, work_factor = keys.decrypt_identities(pending.read_bytes(), passphrase)
    except WrongPassphrase:
        with contextlib.suppress(VaultCorrupted):  # overwritten by the re-key's step 4
            keys.read_identity(root / IDENTITY, passphrase)  # WrongPassphrase if not the old
        raise RekeyInterrupted(
            "A re-key of this vault was interrupted; open it with the new passphrase to finish it."
        ) from None
    if len(identities) != 2:
        raise VaultCorrupted(f"{pending} does not hold the two identities of a re-key.")
    new, old = identities
    lock.exclusive()
    rekey.remove_leftovers(root)
    try:
        vault = Vault(root, new, lock)
    except IndexForeign:  # the index is not re-keyed yet
        vault = Vault(root, old, lock)
    try:
        with vault._state:
            vault._finish_rekey(new, old, passphrase, work_factor)
    except BaseException:
        vault.close()
        raise
    lock.shared()
    return vault


def rebuild_index(path: str | os.PathLike[str], passphrase: str) -> tuple[Vault, list[Path]]:
    """Start a new, empty index.db when the old one is missing or unusable; the vault, open.

    The unusable files are kept as ``index.db.unusable-<UTC time>[-wal|-shm]`` (quick delete
    removes them too). Titles, descriptions, reports and the connection lived in the lost
    index; every blob becomes an orphan, for ``recover_orphans``. Needs the vault alone
    (VaultBusy otherwise); refused (VaultError) if index.db opens.
    """
    root = Path(path)
    _check_marker(root)
    lock = OpenLock.acquire(root / MARKER)
    try:
        lock.exclusive()
        identity, kept = _set_index_aside(root, passphrase)
        lock.shared()
        return Vault(root, identity, lock), kept
    except BaseException:
        lock.release()
        raise


def _set_index_aside(root: Path, passphrase: str) -> tuple[age.X25519Identity, list[Path]]:
    """Keep the unusable index files aside and create a new index (rebuild_index)."""
    if (root / NEXT_IDENTITY).exists():
        raise _rekey_interrupted()
    identity, _ = keys.read_identity(root / IDENTITY, passphrase)
    key = keys.index_key(identity)
    try:
        Index(root / INDEX, key).close()
    except (IndexMissing, IndexForeign):
        pass
    else:
        raise VaultError(f"{root / INDEX} opens; there is nothing to rebuild.")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    kept = []
    for suffix in ("", "-wal", "-shm"):
        old = root / (INDEX + suffix)
        if old.exists() or old.is_symlink():
            aside = root / f"{INDEX}.unusable-{stamp}{suffix}"
            os.replace(old, aside)
            kept.append(aside)
    Index.create(root / INDEX, key).close()
    fsync_dir(root)
    return identity, kept


def _rekey_interrupted() -> RekeyInterrupted:
    return RekeyInterrupted(
        "A re-key of this vault was interrupted; open it with the new passphrase to finish it."
    )
