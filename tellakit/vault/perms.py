"""Vault folders are private: the folder and its sub-folders 0700, every file 0600.

New vaults are created that way whatever the umask. Vaults made by an older tellakit (or
copied with a tool that ignores modes) may be readable by other local accounts, which could
copy identity.age and guess passphrases offline: ``loose_permissions`` finds such entries and
``make_private`` fixes them (``tellakit info`` offers to). Symlinks are neither followed nor
changed. No passphrase is needed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tellakit.vault.fsutil import PRIVATE_DIR, PRIVATE_FILE


def loose_permissions(path: str | os.PathLike[str]) -> list[Path]:
    """Entries under the vault folder (itself included) that group or others may use."""
    root = Path(path)
    if os.name != "posix" or not root.is_dir():
        return []
    found = []
    for dirpath, _dirs, files in os.walk(root, followlinks=False):
        for entry in [Path(dirpath), *(Path(dirpath) / f for f in files)]:
            try:
                mode = entry.lstat().st_mode
            except FileNotFoundError:
                continue
            if not stat.S_ISLNK(mode) and stat.S_IMODE(mode) & 0o077:
                found.append(entry)
    return found


def make_private(path: str | os.PathLike[str]) -> list[Path]:
    """Set folders to 0700 and files to 0600 where they were looser; returns what changed."""
    changed = loose_permissions(path)
    for entry in changed:
        os.chmod(entry, PRIVATE_DIR if entry.is_dir() else PRIVATE_FILE)
    return changed
