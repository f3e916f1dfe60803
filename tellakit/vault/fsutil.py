"""Small filesystem helpers: private files and folders, atomic replacement, fsync, shredding.

Everything a vault writes is private whatever the umask: folders 0700, files 0600 (a umask
can only take bits away, so the modes are also set explicitly after creating).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)


def fsync_dir(path: Path) -> None:
    """Flush a directory entry change to disk (a no-op where the OS does not allow it)."""
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def private_dir(path: Path) -> None:
    """Create ``path`` (one level) as a 0700 folder, or leave an existing one as it is."""
    try:
        path.mkdir(mode=PRIVATE_DIR)
    except FileExistsError:
        return
    if os.name == "posix":
        os.chmod(path, PRIVATE_DIR)


def create_private(path: Path) -> int:
    """Create a new file (never an existing one, never through a symlink), 0600; its fd."""
    fd = os.open(
        path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC | _BINARY, PRIVATE_FILE
    )
    if os.name == "posix":
        os.fchmod(fd, PRIVATE_FILE)
    return fd


def write_new(path: Path, data: bytes) -> None:
    """Write ``data`` to a new private file and fsync it (FileExistsError if it exists)."""
    fd = create_private(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise


def temp_name(path: Path, suffix: str = ".tmp") -> Path:
    """A unique sibling name that still starts with ``path``'s name (``identity.age.<hex>.tmp``)."""
    return path.with_name(f"{path.name}.{secrets.token_hex(8)}{suffix}")


def atomic_write(path: Path, data: bytes, *, shred_old: bool = False) -> None:
    """Replace ``path`` with ``data``: a unique private temporary sibling (O_EXCL), fsync,
    os.replace, fsync of the folder. The temporary file is removed if anything fails. With
    ``shred_old``, the file being replaced is overwritten in place just before the rename."""
    tmp = temp_name(path)
    write_new(tmp, data)
    try:
        if shred_old:
            overwrite(path)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def is_regular(path: Path) -> bool:
    """True for a regular file that is not a symlink."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def overwrite(path: Path) -> None:
    """Overwrite a regular file's bytes in place with random data and flush them to disk.

    Best effort against recovery from this filesystem: flash storage and copy-on-write file
    systems may keep the old blocks elsewhere. Symlinks are not followed (and not touched).
    """
    try:
        fd = os.open(path, os.O_WRONLY | _NOFOLLOW | _CLOEXEC | _BINARY)
    except (FileNotFoundError, IsADirectoryError):
        return
    except OSError:
        if path.is_symlink():
            return
        raise
    try:
        left = max(os.fstat(fd).st_size, 1)
        while left:
            left -= os.write(fd, os.urandom(min(1024 * 1024, left)))
        os.fsync(fd)
    finally:
        os.close(fd)


def overwrite_and_remove(path: Path) -> None:
    """Overwrite a file with random bytes, flush it to disk, then remove it (missing is fine)."""
    overwrite(path)
    path.unlink(missing_ok=True)
