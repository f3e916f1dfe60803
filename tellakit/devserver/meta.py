"""Server-side metadata kept beside (never inside) the users' files: a small sqlite file.

Per node (user id + path below the user's files root): the file id, an etag token
that changes on every write below the node, and the stored OC-Checksum value. Also
the app passwords and the chunked-upload folders' destinations.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import threading
from pathlib import Path

INSTANCE_ID = "ocdevsrv1tk"  # Nextcloud's instance id: "oc" + 10 random characters

_SCHEMA = """
CREATE TABLE IF NOT EXISTS nodes (
    uid TEXT NOT NULL, path TEXT NOT NULL,
    fileid INTEGER NOT NULL, token TEXT NOT NULL, checksum TEXT,
    PRIMARY KEY (uid, path));
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS app_passwords (
    digest TEXT PRIMARY KEY, uid TEXT NOT NULL, login TEXT NOT NULL, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS uploads (
    uid TEXT NOT NULL, id TEXT NOT NULL, destination TEXT, PRIMARY KEY (uid, id));
"""


def parent_paths(path: str) -> list[str]:
    """``"a/b/c"`` -> ``["a/b", "a", ""]`` (the ancestors, nearest first, root last)."""
    parts = [p for p in path.split("/") if p]
    return ["/".join(parts[:i]) for i in range(len(parts) - 1, -1, -1)]


def _like_prefix(path: str) -> str:
    escaped = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "/%"


def digest_secret(secret: str) -> str:
    """How app passwords are stored: only a digest."""
    return hashlib.sha256(secret.encode()).hexdigest()


class MetaStore:
    """Thread-safe access to the metadata database."""

    def __init__(self, db_path: Path) -> None:
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(db_path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    # --- nodes -------------------------------------------------------------------------------
    def _row(self, uid: str, path: str) -> tuple[int, str, str | None]:
        row = self._db.execute(
            "SELECT fileid, token, checksum FROM nodes WHERE uid=? AND path=?", (uid, path)
        ).fetchone()
        if row is None:
            fileid = self._next_id()
            token = secrets.token_hex(8)
            self._db.execute(
                "INSERT INTO nodes (uid, path, fileid, token) VALUES (?,?,?,?)",
                (uid, path, fileid, token),
            )
            return fileid, token, None
        return row[0], row[1], row[2]

    def _next_id(self) -> int:
        self._db.execute("INSERT OR IGNORE INTO counters VALUES ('fileid', 100)")
        self._db.execute("UPDATE counters SET value = value + 1 WHERE name='fileid'")
        row = self._db.execute("SELECT value FROM counters WHERE name='fileid'").fetchone()
        return int(row[0])

    def fileid(self, uid: str, path: str) -> int:
        """The node's file id (assigned on first sight)."""
        with self._lock:
            return self._row(uid, path)[0]

    def etag(self, uid: str, path: str, disk_path: Path | None = None) -> str:
        """The node's etag: a token changed by every write; for files also size and mtime."""
        with self._lock:
            token = self._row(uid, path)[1]
        if disk_path is not None and disk_path.is_file():
            st = disk_path.stat()
            token = f"{token}:{st.st_size}:{st.st_mtime_ns}"
        return hashlib.md5(token.encode(), usedforsecurity=False).hexdigest()[:13]

    def checksum(self, uid: str, path: str) -> str | None:
        """The stored OC-Checksum value, if any."""
        with self._lock:
            return self._row(uid, path)[2]

    def set_checksum(self, uid: str, path: str, value: str | None) -> None:
        """Store (or clear) the OC-Checksum value."""
        with self._lock:
            self._row(uid, path)
            self._db.execute(
                "UPDATE nodes SET checksum=? WHERE uid=? AND path=?", (value, uid, path)
            )

    def touch(self, uid: str, path: str) -> None:
        """Give the node and every folder above it a new etag."""
        with self._lock:
            for p in [path, *parent_paths(path)]:
                self._row(uid, p)
                self._db.execute(
                    "UPDATE nodes SET token=? WHERE uid=? AND path=?",
                    (secrets.token_hex(8), uid, p),
                )

    def forget(self, uid: str, path: str) -> None:
        """The node (and everything below it) is gone."""
        with self._lock:
            self._db.execute(
                "DELETE FROM nodes WHERE uid=? AND (path=? OR path LIKE ? ESCAPE '\\')",
                (uid, path, _like_prefix(path)),
            )
            for p in parent_paths(path):
                self._row(uid, p)
                self._db.execute(
                    "UPDATE nodes SET token=? WHERE uid=? AND path=?",
                    (secrets.token_hex(8), uid, p),
                )

    def move(self, uid: str, src: str, dst: str) -> None:
        """The node moved: it keeps its file id (and so does everything below it)."""
        with self._lock:
            self._db.execute(
                "DELETE FROM nodes WHERE uid=? AND (path=? OR path LIKE ? ESCAPE '\\')",
                (uid, dst, _like_prefix(dst)),
            )
            rows = self._db.execute(
                "SELECT path FROM nodes WHERE uid=? AND (path=? OR path LIKE ? ESCAPE '\\')",
                (uid, src, _like_prefix(src)),
            ).fetchall()
            for (p,) in rows:
                self._db.execute(
                    "UPDATE nodes SET path=? WHERE uid=? AND path=?",
                    (dst + p[len(src) :], uid, p),
                )
        self.forget(uid, src)
        self.touch(uid, dst)

    def copy(self, uid: str, src: str, dst: str) -> None:
        """The node was copied: new file ids, same stored checksums."""
        with self._lock:
            self._db.execute(
                "DELETE FROM nodes WHERE uid=? AND (path=? OR path LIKE ? ESCAPE '\\')",
                (uid, dst, _like_prefix(dst)),
            )
            rows = self._db.execute(
                "SELECT path, checksum FROM nodes WHERE uid=? AND (path=? OR path LIKE ? "
                "ESCAPE '\\') AND checksum IS NOT NULL",
                (uid, src, _like_prefix(src)),
            ).fetchall()
            for p, checksum in rows:
                self.set_checksum(uid, dst + p[len(src) :], checksum)
        self.touch(uid, dst)

    # --- app passwords -----------------------------------------------------------------------
    def add_app_password(self, secret: str, uid: str, login: str, name: str) -> None:
        """Remember an app password (as a digest)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO app_passwords VALUES (?,?,?,?)",
                (digest_secret(secret), uid, login, name),
            )

    def app_password_owner(self, secret: str) -> tuple[str, str] | None:
        """(uid, login) of an app password, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT uid, login FROM app_passwords WHERE digest=?", (digest_secret(secret),)
            ).fetchone()
        return (row[0], row[1]) if row else None

    def revoke_app_password(self, secret: str) -> None:
        """Forget an app password."""
        with self._lock:
            self._db.execute("DELETE FROM app_passwords WHERE digest=?", (digest_secret(secret),))

    # --- uploads -----------------------------------------------------------------------------
    def set_upload(self, uid: str, upload_id: str, destination: str | None) -> None:
        """Record an upload folder and the Destination its MKCOL carried (v2 when set)."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO uploads VALUES (?,?,?)", (uid, upload_id, destination)
            )

    def upload_destination(self, uid: str, upload_id: str) -> str | None:
        """The Destination of a v2 upload, None for v1."""
        with self._lock:
            row = self._db.execute(
                "SELECT destination FROM uploads WHERE uid=? AND id=?", (uid, upload_id)
            ).fetchone()
        return row[0] if row else None

    def drop_upload(self, uid: str, upload_id: str) -> None:
        """Forget an upload folder."""
        with self._lock:
            self._db.execute("DELETE FROM uploads WHERE uid=? AND id=?", (uid, upload_id))


def tree_size(root: Path) -> int:
    """Total bytes of the files below ``root``."""
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
    return total
