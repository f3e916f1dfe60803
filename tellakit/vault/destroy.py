"""Quick delete: make a vault unreadable at once, then remove its files.

Every ``identity.age*`` file (identity.age, a re-key's identity.age.next, temporary copies) is
overwritten in place with random bytes and fsynced, then removed, before anything else: from
that moment the index and every blob are unreadable, even if the rest of the removal is cut
short. Then index.db (with its WAL, SHM and any kept copies), blobs/, set-aside/ and the marker
go, in that order, and the folder itself if nothing else is left in it.

No passphrase is needed and an open vault is not required: a person in a hurry must not have
to unlock first. Running it again finishes an interrupted run. Only the vault's own names are
touched, never through a symlink; a folder without the marker is refused (nothing deleted),
unless nothing of a vault is left in it (then there is nothing to do).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from tellakit.errors import VaultNotFound
from tellakit.vault.fsutil import fsync_dir, is_regular, overwrite
from tellakit.vault.layout import BLOBS, IDENTITY, INDEX, MARKER, SET_ASIDE
from tellakit.vault.locks import identity_lock

#: How long quick delete waits for a passphrase change to finish writing (it then goes on).
DESTROY_LOCK_SECONDS = 5.0


def _ours(name: str) -> bool:
    return name in (MARKER, BLOBS, SET_ASIDE) or name.startswith((IDENTITY, INDEX))


def destroy_vault(path: str | os.PathLike[str]) -> None:
    """Destroy the vault at ``path`` (idempotent; see the module docstring)."""
    root = Path(path)
    if not root.exists():
        return
    if not is_regular(root / MARKER):
        if root.is_dir() and not any(_ours(p.name) for p in root.iterdir()):
            return
        raise VaultNotFound(
            f"{root} holds no tellakit vault ({MARKER} is missing); nothing was deleted."
        )
    with identity_lock(root, DESTROY_LOCK_SECONDS):  # taken or not, the shredding goes on
        _shred_identities(root)
    for entry in root.iterdir():
        if entry.name.startswith(INDEX) and (is_regular(entry) or entry.is_symlink()):
            entry.unlink(missing_ok=True)
    for name in (BLOBS, SET_ASIDE):
        _remove_tree(root / name)
    _shred_identities(root)  # a passphrase change that outwaited the lock leaves nothing
    (root / MARKER).unlink(missing_ok=True)
    fsync_dir(root)
    with contextlib.suppress(OSError):  # the folder holds files not ours: leave them
        root.rmdir()


def _shred_identities(root: Path) -> None:
    found = [p for p in root.iterdir() if p.name.startswith(IDENTITY)]
    for p in found:
        if is_regular(p):
            overwrite(p)
    for p in found:
        if is_regular(p) or p.is_symlink():
            p.unlink(missing_ok=True)
    fsync_dir(root)


def _remove_tree(path: Path) -> None:
    if path.is_symlink():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)  # never follows symlinks inside
