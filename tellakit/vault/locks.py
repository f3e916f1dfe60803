"""Cross-process locks of one vault folder (POSIX ``flock``; no-ops where it does not exist).

- The *open* lock: every open Vault holds a shared lock on ``tellakit-vault.json``. A re-key
  takes it exclusively, so it runs only while no other process has the vault open, and nobody
  opens the vault while it runs.
- The *identity* lock: an exclusive lock on the vault folder itself, held for the moment in
  which ``identity.age`` (or ``identity.age.next``) is replaced, and by quick delete while it
  shreds them: two passphrase changes never interleave, and none lands after a destroy.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from tellakit.errors import VaultBusy

fcntl: ModuleType | None
try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

_POLL_SECONDS = 0.01


class OpenLock:
    """The shared lock an open Vault holds on its marker file."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    @classmethod
    def acquire(cls, marker: Path) -> OpenLock:
        """Take the shared lock (VaultBusy while another process re-keys the vault)."""
        if fcntl is None:  # pragma: no cover - Windows
            return cls(None)
        fd = os.open(marker, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise VaultBusy(
                "The vault is being re-keyed by another process; open it again when that "
                "has finished."
            ) from None
        return cls(fd)

    def exclusive(self) -> None:
        """Hold the vault alone (VaultBusy if another process or Vault object has it open)."""
        if fcntl is None or self._fd is None:  # pragma: no cover - Windows
            return
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # flock may drop the shared lock while converting: take it back.
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            raise VaultBusy(
                "The vault is open in another process (or another notebook); close it there, "
                "then try again."
            ) from None

    def shared(self) -> None:
        """Go back from exclusive to shared."""
        if fcntl is not None and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_SH)

    def release(self) -> None:
        """Let go (closing the descriptor releases the lock)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


@contextlib.contextmanager
def identity_lock(root: Path, timeout: float) -> Iterator[bool]:
    """Hold the folder's identity lock; yields False if ``timeout`` passed without it."""
    if fcntl is None:  # pragma: no cover - Windows
        yield True
        return
    fd = os.open(root, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(_POLL_SECONDS)
            else:
                yield True
                return
    finally:
        os.close(fd)
