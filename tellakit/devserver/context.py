"""State shared by the parts of one development server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tellakit.devserver.meta import MetaStore, tree_size
from tellakit.devserver.names import NameRules
from tellakit.devserver.profiles import NEXTCLOUD, Profile
from tellakit.devserver.users import UserStore

META_DIR = ".devserver"  # beside the users' folders, never inside one


class FileBusy(Exception):
    """Another request is writing this file (Nextcloud answers 423)."""


@dataclass
class Context:
    """Configuration and stores of one server."""

    data_dir: Path
    meta: MetaStore
    users: UserStore
    rules: NameRules
    profile: Profile = NEXTCLOUD
    chunk_expiry_seconds: float = 86400.0
    login_flow_expiry_seconds: float = 1200.0
    brute_force_protection: bool = False
    brute_force_attempts: int = 5
    maintenance: bool = False
    max_chunk_size: int = 100 * 1024 * 1024
    _busy: set[tuple[str, str]] = field(default_factory=set)
    _busy_lock: threading.Lock = field(default_factory=threading.Lock)

    def files_root(self, uid: str) -> Path:
        """Where ``uid``'s files live (created on demand)."""
        root = self.data_dir / uid / "files"
        root.mkdir(parents=True, exist_ok=True)
        return root

    def uploads_root(self, uid: str) -> Path:
        """Where ``uid``'s chunked-upload folders live."""
        root = self.data_dir / uid / "uploads"
        root.mkdir(parents=True, exist_ok=True)
        return root

    @property
    def tmp_dir(self) -> Path:
        """Part files being written (same file system as the data, for atomic renames)."""
        tmp = self.data_dir / META_DIR / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return tmp

    def used_bytes(self, uid: str) -> int:
        """Bytes in ``uid``'s files."""
        return tree_size(self.files_root(uid))

    def free_bytes(self, uid: str) -> int | None:
        """Bytes left under the quota, None when unlimited."""
        user = self.users.get(uid)
        if user is None or user.quota is None:
            return None
        return max(0, user.quota - self.used_bytes(uid))

    def is_busy(self, uid: str, path: str) -> bool:
        """True while a request writes ``path``."""
        with self._busy_lock:
            return (uid, path) in self._busy

    @contextmanager
    def writing(self, uid: str, path: str) -> Iterator[None]:
        """Mark ``path`` as being written; raises FileBusy if it already is."""
        key = (uid, path)
        with self._busy_lock:
            if key in self._busy:
                raise FileBusy(path)
            self._busy.add(key)
        try:
            yield
        finally:
            with self._busy_lock:
                self._busy.discard(key)
