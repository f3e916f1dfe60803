"""index.db: the SQLCipher 4 database holding every piece of metadata.

Titles, descriptions, file names, MIME types, sizes, hashes, upload bookkeeping and the server
credentials live only here. The raw 256-bit key derives from the vault identity (keys.py);
temporary tables and indices stay in memory (temp_store = MEMORY) so SQLite writes no plaintext
temp files; the WAL is encrypted like the database.

One connection, shared by all threads behind a lock (check_same_thread=False).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any

from sqlcipher3 import dbapi2 as sqlcipher

from tellakit.errors import (
    AttachmentNotFound,
    IndexForeign,
    IndexMissing,
    ReportNotFound,
    VaultCorrupted,
    VaultError,
    VaultLocked,
)
from tellakit.reports import Attachment, FileState, Report, Status, Verification
from tellakit.vault.fsutil import create_private, is_regular
from tellakit.vault.models import ConnectionSettings, LinkStats, VaultFile

SCHEMA_VERSION = 6
RECOVERY = (
    "Restore this vault's index.db from a backup, or run `tellakit recover` to start a new "
    "index from the blobs (see docs/troubleshooting.md)."
)

#: Tables of schema version 2: what a deletion or a re-key must finish after a crash.
_JOURNALS = """
CREATE TABLE deleted_blobs (
    blob TEXT PRIMARY KEY               -- a deleted file's blob, unlinked right after the commit
);
CREATE TABLE rekey_blobs (
    blob TEXT PRIMARY KEY,              -- a blob whose header a re-key is replacing
    header BLOB NOT NULL,               -- the new header (the same file key and the new recipient)
    header_mac TEXT NOT NULL,           -- its MAC: files.header_mac once it is written
    payload_offset INTEGER NOT NULL     -- where the payload starts in the blob as it was
);
"""

#: Table of schema version 6: what the engine learned of the link to each server (issue 10).
_LINKS = """
CREATE TABLE link_stats (
    server_url TEXT PRIMARY KEY,
    between_drops REAL,                 -- bytes that get through between two drops (smoothed)
    throughput REAL,                    -- bytes per second of confirmed chunks (smoothed)
    streak INTEGER NOT NULL DEFAULT 0,  -- bytes through since the last drop
    drops INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
);
"""

# A comment after a column's comma holds no comma of its own (SQLite's DROP COLUMN, which the
# migration tests use, looks back for the comma before a column); none holds a semicolon (the
# schema is run one statement at a time).
_SCHEMA = (
    """
CREATE TABLE files (
    id TEXT PRIMARY KEY,
    blob TEXT NOT NULL UNIQUE,          -- path below blobs/ (e.g. "ab/ab12...")
    name TEXT NOT NULL,
    mime TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,               -- hex SHA-256 of the plaintext
    header_mac TEXT NOT NULL,           -- base64 age header MAC: binds the blob to this row
    imported_at TEXT NOT NULL,
    raw_name BLOB                       -- the original name's bytes when not valid UTF-8
);
CREATE TABLE reports (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,               -- creation order: breaks ties of equal timestamps
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    retryable INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    submitted_at TEXT,
    remote_folder TEXT,
    description_sent INTEGER NOT NULL DEFAULT 0,
    manifest_sent INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    sealed_to TEXT,                     -- age recipients one a line ('' readable / NULL unfixed)
    readable_names INTEGER NOT NULL DEFAULT 0,
    description_key TEXT                -- sealed: the description's SealedKey.dumps()
);
CREATE INDEX reports_by_status ON reports (status, created_at);
CREATE TABLE report_files (
    id TEXT PRIMARY KEY,
    report_id TEXT NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    file_id TEXT NOT NULL REFERENCES files (id),
    name TEXT NOT NULL,
    mime TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    position INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    bytes_sent INTEGER NOT NULL DEFAULT 0,
    remote_name TEXT,
    remote_path TEXT,
    transfer_id TEXT,
    chunk_size INTEGER,
    checksum TEXT,
    verified_at TEXT,
    error TEXT,
    verification TEXT,                  -- how it was checked: server_sha256 ... size_only
    server_digest TEXT,                 -- "<kind>:<hex>" the server answered while uploading
    resends INTEGER NOT NULL DEFAULT 0, -- sent again from the start after a failed check
    sealed_key TEXT,                    -- sealed: this file's SealedKey.dumps()
    sealed_sha256 TEXT,                 -- sealed: SHA-256 of the ciphertext once known
    chunk_map TEXT                      -- chunks after the confirmed run: in flight or done
);
CREATE INDEX report_files_by_report ON report_files (report_id, position);
CREATE INDEX report_files_by_file ON report_files (file_id);
CREATE TABLE connection (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    server_url TEXT NOT NULL,
    login TEXT NOT NULL,
    user_id TEXT NOT NULL,
    password TEXT NOT NULL,
    is_app_password INTEGER NOT NULL,
    root_folder TEXT NOT NULL,
    allow_insecure_http INTEGER NOT NULL,
    upload_manifest INTEGER NOT NULL,
    auto_retry INTEGER NOT NULL,
    encrypt_to TEXT NOT NULL DEFAULT '',        -- sealed submissions: age recipients (one a line)
    readable_names INTEGER NOT NULL DEFAULT 0,  -- sealed but with Tella's readable folder names
    without_digest TEXT NOT NULL DEFAULT 'download'  -- no server digest: download or size_only
);
"""
    + _JOURNALS
    + _LINKS
)
#: What brings a schema from version N - 1 to N (a new vault gets _SCHEMA at once).
_MIGRATIONS = {
    2: "ALTER TABLE files ADD COLUMN raw_name BLOB;" + _JOURNALS,
    # Sealed submissions (issue 13): the connection's encryption settings ('' = none).
    3: "ALTER TABLE connection ADD COLUMN encrypt_to TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE connection ADD COLUMN readable_names INTEGER NOT NULL DEFAULT 0",
    # Verification on what the server computed (issue 14): how each file was checked, the
    # upload's digest answer kept across a restart, the automatic re-sends, and what to do
    # when a server offers no digest. Files verified before it keep a NULL verification.
    4: "ALTER TABLE report_files ADD COLUMN verification TEXT;"
    "ALTER TABLE report_files ADD COLUMN server_digest TEXT;"
    "ALTER TABLE report_files ADD COLUMN resends INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE connection ADD COLUMN without_digest TEXT NOT NULL DEFAULT 'download'",
    # Sealed submissions, the engine's side: each report's layout, fixed when it is queued,
    # and the age keys of its files. A report that already has a folder on the server (or
    # was submitted) went out in the readable layout and stays in it; other outbox reports
    # are fixed when their next run starts.
    5: "ALTER TABLE reports ADD COLUMN sealed_to TEXT;"
    "ALTER TABLE reports ADD COLUMN readable_names INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE reports ADD COLUMN description_key TEXT;"
    "ALTER TABLE report_files ADD COLUMN sealed_key TEXT;"
    "ALTER TABLE report_files ADD COLUMN sealed_sha256 TEXT;"
    "UPDATE reports SET sealed_to = '' "
    "WHERE remote_folder IS NOT NULL OR status = 'submitted'",
    # Field links (issue 10, 16): parallel chunks' bookkeeping and the link's record.
    6: "ALTER TABLE report_files ADD COLUMN chunk_map TEXT;" + _LINKS,
}
_FILE_COLS = "id, blob, name, mime, size, sha256, header_mac, imported_at, raw_name"
_RECOVERED = re.compile(r"recovered-([0-9]{1,9})")

_REPORT_COLS = (
    "id, title, description, status, reason, retryable, created_at, updated_at, submitted_at, "
    "remote_folder, description_sent, manifest_sent, attempts, sealed_to, readable_names, "
    "description_key"
)
_ATT_COLS = (
    "id, report_id, file_id, name, mime, size, sha256, position, state, bytes_sent, "
    "remote_name, remote_path, transfer_id, chunk_size, checksum, verified_at, error, "
    "verification, server_digest, resends, sealed_key, sealed_sha256, chunk_map"
)
_REPORT_MARKS = ", ".join("?" * (_REPORT_COLS.count(",") + 1))
_ATT_MARKS = ", ".join("?" * (_ATT_COLS.count(",") + 1))
#: The fields of each ``report_rows`` tuple, in order (timestamps as ISO 8601 UTC strings).
REPORT_ROW_FIELDS = (
    "id",
    "title",
    "status",
    "reason",
    "created_at",
    "updated_at",
    "submitted_at",
    "files",
    "bytes",
    "bytes_sent",
    "remote_folder",
    "attempts",
    "verification",
)
_CONN_FIELDS = (
    "server_url",
    "login",
    "user_id",
    "password",
    "is_app_password",
    "root_folder",
    "allow_insecure_http",
    "upload_manifest",
    "auto_retry",
    "encrypt_to",
    "readable_names",
    "without_digest",
)
_CONN_BOOLS = (
    "is_app_password",
    "allow_insecure_http",
    "upload_manifest",
    "auto_retry",
    "readable_names",
)


def now() -> datetime:
    """The current time, tz-aware UTC."""
    return datetime.now(timezone.utc)


def _ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _assignments(fields: dict[str, Any]) -> tuple[str, list[Any]]:
    """The ``SET`` clause (``a = ?, b = ?``) of ``fields`` and its values as the columns store
    them: times (``*_at``) as ISO text, booleans as 0/1, enums by value."""
    values = []
    for key, value in fields.items():
        if isinstance(value, datetime) or key.endswith("_at"):
            value = _ts(value)
        elif isinstance(value, bool):
            value = int(value)
        elif isinstance(value, tuple):  # recipients: one a line
            value = _lines(value)
        elif isinstance(value, Enum):
            value = value.value
        values.append(value)
    return ", ".join(f"{k} = ?" for k in fields), values


#: Value -> member lookups: listing thousands of rows, Enum(value) calls were 10-15% of the time.
_STATUSES = {s.value: s for s in Status}
_FILE_STATES = {s.value: s for s in FileState}
_VERIFICATIONS = {v.value: v for v in Verification}
_parse_dt = datetime.fromisoformat


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _lines(values: tuple[str, ...] | None) -> str | None:
    """A tuple of one-line strings as one text column (None stays NULL)."""
    return None if values is None else "\n".join(values)


def _unlines(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(line for line in text.split("\n") if line)


class Index:
    """The open index database of one vault.

    ``Index(path, key)`` opens an existing index only: a missing or empty file, or one that is
    not this vault's SQLCipher database, is refused (IndexMissing, IndexForeign) and never
    created or rewritten. ``Index.create`` makes a new one (create_vault, recovery).
    """

    def __init__(self, path: Path, key: bytes, *, create: bool = False) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        self.path = path
        if create:
            os.close(create_private(path))  # 0600 before SQLite: its WAL and SHM inherit it
        self._con: Any = self._connect(path, key, new=create)
        if create:
            with self.transaction() as cur:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        cur.execute(statement)
                cur.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        else:
            self._migrate()

    @classmethod
    def create(cls, path: Path, key: bytes) -> Index:
        """A new, private (0600) index with the current schema (FileExistsError if present)."""
        return cls(path, key, create=True)

    @staticmethod
    def _connect(path: Path, key: bytes, *, new: bool = False) -> Any:
        if not new:
            if not path.exists():
                raise IndexMissing(f"{path} is missing. {RECOVERY}")
            if not is_regular(path):
                raise IndexMissing(f"{path} is not a regular file. {RECOVERY}")
            wal = path.with_name(path.name + "-wal")
            if path.stat().st_size == 0 and not (is_regular(wal) and wal.stat().st_size):
                raise IndexMissing(f"{path} is empty. {RECOVERY}")
        # mode=rw: SQLite must never create the file (a missing index is an error, not empty).
        uri = path.absolute().as_uri() + "?mode=rw"
        try:
            con = sqlcipher.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        except sqlcipher.OperationalError:
            raise IndexMissing(f"{path} is missing. {RECOVERY}") from None
        # A wrong key is an answer here (IndexForeign), not something for SQLCipher to log.
        level = con.execute("PRAGMA cipher_log_level").fetchone()[0]
        con.execute("PRAGMA cipher_log_level = NONE")
        try:
            con.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
            con.execute("PRAGMA temp_store = MEMORY")
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlcipher.DatabaseError:
            con.execute(f"PRAGMA cipher_log_level = {level}")
            con.close()
            raise IndexForeign(
                f"{path} does not open with this vault's key (another vault's index, a damaged "
                f"file, or not a SQLCipher database). {RECOVERY}"
            ) from None
        con.execute(f"PRAGMA cipher_log_level = {level}")
        try:
            con.execute("PRAGMA journal_mode = WAL")
            con.execute("PRAGMA foreign_keys = ON")
            con.execute("PRAGMA secure_delete = ON")
        except sqlcipher.DatabaseError as exc:
            con.close()
            raise VaultCorrupted(f"index.db cannot be opened with the vault key: {exc}") from None
        return con

    def _migrate(self) -> None:
        version = self._con.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version == 0:
            self.close()
            raise IndexMissing(f"{self.path} holds no tellakit tables. {RECOVERY}")
        if version > SCHEMA_VERSION:
            self.close()
            raise VaultCorrupted(
                f"index.db has schema version {version}; this tellakit knows {SCHEMA_VERSION}."
            )
        with self.transaction() as cur:
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[step].split(";"):
                    if statement.strip():
                        cur.execute(statement)
            cur.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error)."""
        with self._lock:
            if self._con is None:
                raise VaultLocked("The vault is locked; open it again with the passphrase.")
            cur = self._con.cursor()
            if self._depth:  # nested: part of the caller's transaction
                yield cur
                return
            cur.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")
            finally:
                self._depth -= 1

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run a read query under the lock and return all rows."""
        with self._lock:
            if self._con is None:
                raise VaultLocked("The vault is locked; open it again with the passphrase.")
            return list(self._con.execute(sql, params).fetchall())

    def close(self) -> None:
        """Checkpoint and close the connection."""
        with self._lock:
            if self._con is not None:
                try:
                    self._con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                finally:
                    self._con.close()
                    self._con = None

    # --- files --------------------------------------------------------------------------------

    def add_file(
        self, f: VaultFile, blob: str, header_mac: str, raw_name: bytes | None = None
    ) -> None:
        """Insert a file row (after its blob is safely on disk)."""
        with self.transaction() as cur:
            cur.execute(
                f"INSERT INTO files ({_FILE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                (
                    f.id,
                    blob,
                    f.name,
                    f.mime,
                    f.size,
                    f.sha256,
                    header_mac,
                    _ts(f.imported_at),
                    raw_name,
                ),
            )

    def has_file(self, file_id: str) -> bool:
        """True if a file row with that id exists."""
        return bool(self.query("SELECT 1 FROM files WHERE id = ?", (file_id,)))

    def raw_name(self, file_id: str) -> bytes | None:
        """The original bytes of a file's name when they were not valid UTF-8."""
        rows = self.query("SELECT raw_name FROM files WHERE id = ?", (file_id,))
        return None if not rows or rows[0][0] is None else bytes(rows[0][0])

    @staticmethod
    def _file(row: Sequence[Any]) -> VaultFile:
        return VaultFile(row[0], row[1], row[2], row[3], row[4], _dt(row[5]))  # type: ignore[arg-type]

    def get_file(self, file_id: str) -> tuple[VaultFile, str, str]:
        """(file, blob path, header MAC); AttachmentNotFound if unknown."""
        rows = self.query(
            "SELECT id, name, mime, size, sha256, imported_at, blob, header_mac FROM files "
            "WHERE id = ?",
            (file_id,),
        )
        if not rows:
            raise AttachmentNotFound(f"No file with id {file_id!r} in this vault.")
        return self._file(rows[0]), rows[0][6], rows[0][7]

    def list_files(self) -> list[VaultFile]:
        """Every file, oldest import first."""
        rows = self.query(
            "SELECT id, name, mime, size, sha256, imported_at FROM files ORDER BY imported_at, id"
        )
        return [self._file(r) for r in rows]

    def blob_paths(self) -> set[str]:
        """Every blob path the index refers to."""
        return {r[0] for r in self.query("SELECT blob FROM files")}

    def blob_rows(self) -> list[tuple[str, str, str]]:
        """(blob path, header MAC, file name) of every file."""
        return [tuple(r) for r in self.query("SELECT blob, header_mac, name FROM files")]

    def pending_deletions(self) -> set[str]:
        """Blobs of deleted files that may still be on disk."""
        return {r[0] for r in self.query("SELECT blob FROM deleted_blobs")}

    def forget_deletions(self, blobs: Iterable[str]) -> None:
        """Drop finished deletions from the journal."""
        with self.transaction() as cur:
            cur.executemany("DELETE FROM deleted_blobs WHERE blob = ?", [(b,) for b in blobs])

    def next_recovered_number(self) -> int:
        """1 + the highest n of the files named ``recovered-<n>``."""
        names = self.query("SELECT name FROM files WHERE name LIKE 'recovered-%'")
        numbers = [int(m.group(1)) for (n,) in names if (m := _RECOVERED.fullmatch(n))]
        return max(numbers, default=0) + 1

    # --- re-key journal (see rekey.py) ---------------------------------------------------------

    def rekey_journal(self) -> dict[str, tuple[bytes, str, int]]:
        """blob -> (new header, its MAC, payload offset) of headers being replaced."""
        rows = self.query("SELECT blob, header, header_mac, payload_offset FROM rekey_blobs")
        return {r[0]: (bytes(r[1]), r[2], r[3]) for r in rows}

    def journal_rekey(self, blob: str, header: bytes, header_mac: str, offset: int) -> None:
        """Record a header about to be written, before it is written."""
        with self.transaction() as cur:
            cur.execute(
                "INSERT OR REPLACE INTO rekey_blobs VALUES (?, ?, ?, ?)",
                (blob, header, header_mac, offset),
            )

    def finish_rekey(self, blob: str, header_mac: str) -> None:
        """The new header is on disk: bind it to the file row and drop the journal entry."""
        with self.transaction() as cur:
            cur.execute("UPDATE files SET header_mac = ? WHERE blob = ?", (header_mac, blob))
            cur.execute("DELETE FROM rekey_blobs WHERE blob = ?", (blob,))

    def export_to(self, dest: Path, key: bytes) -> None:
        """Copy the whole database into the new (empty) file ``dest`` under another key."""
        with self._lock:
            if self._con is None:
                raise VaultLocked("The vault is locked; open it again with the passphrase.")
            con = self._con
            con.execute(f"ATTACH DATABASE ? AS rekeyed KEY \"x'{key.hex()}'\"", (str(dest),))
            try:
                con.execute("SELECT sqlcipher_export('rekeyed')")
                con.execute(f"PRAGMA rekeyed.user_version = {SCHEMA_VERSION}")
            finally:
                con.execute("DETACH DATABASE rekeyed")

    def delete_file(self, file_id: str) -> str:
        """Remove a file row; returns its blob path. Refuses files attached to a report.

        The blob is noted in ``deleted_blobs`` in the same transaction, so a crash before it is
        unlinked is finished on the next open instead of leaving an unexplained blob."""
        with self.transaction() as cur:
            row = cur.execute("SELECT blob FROM files WHERE id = ?", (file_id,)).fetchone()
            if row is None:
                raise AttachmentNotFound(f"No file with id {file_id!r} in this vault.")
            used = cur.execute(
                "SELECT count(*) FROM report_files WHERE file_id = ?", (file_id,)
            ).fetchone()[0]
            if used:
                raise VaultError(
                    f"The file is attached to {used} report(s); remove it there first."
                )
            cur.execute("DELETE FROM files WHERE id = ?", (file_id,))
            cur.execute("INSERT OR IGNORE INTO deleted_blobs VALUES (?)", (row[0],))
            return str(row[0])

    # --- reports ------------------------------------------------------------------------------

    def insert_report(self, report: Report) -> None:
        """Insert a new report and its attachments."""
        with self.transaction() as cur:
            seq = cur.execute("SELECT coalesce(max(seq), 0) + 1 FROM reports").fetchone()[0]
            cur.execute(
                f"INSERT INTO reports (seq, {_REPORT_COLS}) "  # noqa: S608 - constant columns
                f"VALUES (?, {_REPORT_MARKS})",
                (seq, *self._report_values(report)),
            )
            self._write_attachments(cur, report)

    @staticmethod
    def _report_values(r: Report) -> tuple[Any, ...]:
        return (
            r.id,
            r.title,
            r.description,
            Status(r.status).value,
            r.reason,
            None if r.retryable is None else int(r.retryable),
            _ts(r.created_at),
            _ts(r.updated_at),
            _ts(r.submitted_at),
            r.remote_folder,
            int(r.description_sent),
            int(r.manifest_sent),
            r.attempts,
            _lines(r.sealed_to),
            int(r.readable_names),
            r.description_key,
        )

    @staticmethod
    def _write_attachments(cur: Any, report: Report) -> None:
        cur.execute("DELETE FROM report_files WHERE report_id = ?", (report.id,))
        for a in report.attachments:
            cur.execute(
                f"INSERT INTO report_files ({_ATT_COLS}) "  # noqa: S608 - constant columns
                f"VALUES ({_ATT_MARKS})",
                (
                    a.id,
                    report.id,
                    a.file_id,
                    a.name,
                    a.mime,
                    a.size,
                    a.sha256,
                    a.position,
                    FileState(a.state).value,
                    a.bytes_sent,
                    a.remote_name,
                    a.remote_path,
                    a.transfer_id,
                    a.chunk_size,
                    a.checksum,
                    _ts(a.verified_at),
                    a.error,
                    None if a.verification is None else Verification(a.verification).value,
                    a.server_digest,
                    a.resends,
                    a.sealed_key,
                    a.sealed_sha256,
                    a.chunk_map,
                ),
            )

    def update_report_draft(self, report: Report) -> None:
        """Replace title, description, updated time and the attachment list of a report."""
        with self.transaction() as cur:
            cur.execute(
                "UPDATE reports SET title = ?, description = ?, updated_at = ? WHERE id = ?",
                (report.title, report.description, _ts(report.updated_at), report.id),
            )
            self._write_attachments(cur, report)

    def update_report(self, report_id: str, fields: dict[str, Any]) -> None:
        """Set report columns (names checked by the caller); ReportNotFound if unknown."""
        assignments, values = _assignments(fields)
        with self.transaction() as cur:
            cur.execute(
                f"UPDATE reports SET {assignments} WHERE id = ?",  # noqa: S608 - names whitelisted
                (*values, report_id),
            )
            if cur.rowcount == 0:
                raise ReportNotFound(f"No report with id {report_id!r} in this vault.")

    def update_attachment(self, report_id: str, attachment_id: str, fields: dict[str, Any]) -> None:
        """Set attachment bookkeeping columns; AttachmentNotFound if unknown."""
        assignments, values = _assignments(fields)
        with self.transaction() as cur:
            cur.execute(
                f"UPDATE report_files SET {assignments} "  # noqa: S608 - names whitelisted
                "WHERE id = ? AND report_id = ?",
                (*values, attachment_id, report_id),
            )
            if cur.rowcount == 0:
                raise AttachmentNotFound(
                    f"No attachment {attachment_id!r} in report {report_id!r}."
                )

    def delete_report(self, report_id: str) -> None:
        """Delete a report and its attachment rows (the vault files stay)."""
        with self.transaction() as cur:
            cur.execute("DELETE FROM reports WHERE id = ?", (report_id,))
            if cur.rowcount == 0:
                raise ReportNotFound(f"No report with id {report_id!r} in this vault.")

    @staticmethod
    def _attachment(row: Sequence[Any]) -> Attachment:
        return Attachment(
            id=row[0],
            file_id=row[2],
            name=row[3],
            mime=row[4],
            size=row[5],
            sha256=row[6],
            position=row[7],
            state=_FILE_STATES.get(row[8]) or FileState(row[8]),
            bytes_sent=row[9],
            remote_name=row[10],
            remote_path=row[11],
            transfer_id=row[12],
            chunk_size=row[13],
            checksum=row[14],
            verified_at=None if row[15] is None else _parse_dt(row[15]),
            error=row[16],
            verification=None if row[17] is None else _VERIFICATIONS.get(row[17]),
            server_digest=row[18],
            resends=row[19],
            sealed_key=row[20],
            sealed_sha256=row[21],
            chunk_map=row[22],
        )

    @staticmethod
    def _report(row: Sequence[Any], attachments: list[Attachment]) -> Report:
        return Report(
            id=row[0],
            title=row[1],
            description=row[2],
            status=_STATUSES.get(row[3]) or Status(row[3]),
            reason=row[4],
            retryable=_bool(row[5]),
            created_at=_parse_dt(row[6]),
            updated_at=_parse_dt(row[7]),
            submitted_at=None if row[8] is None else _parse_dt(row[8]),
            remote_folder=row[9],
            description_sent=bool(row[10]),
            manifest_sent=bool(row[11]),
            attempts=row[12],
            attachments=attachments,
            sealed_to=_unlines(row[13]),
            readable_names=bool(row[14]),
            description_key=row[15],
        )

    def get_report(self, report_id: str) -> Report:
        """One report with its attachments; ReportNotFound if unknown."""
        with self._lock:
            rows = self.query(
                f"SELECT {_REPORT_COLS} FROM reports WHERE id = ?",  # noqa: S608 - constant
                (report_id,),
            )
            if not rows:
                raise ReportNotFound(f"No report with id {report_id!r} in this vault.")
            atts = self.query(
                f"SELECT {_ATT_COLS} FROM report_files "  # noqa: S608 - constant columns
                "WHERE report_id = ? ORDER BY position",
                (report_id,),
            )
        return self._report(rows[0], [self._attachment(a) for a in atts])

    def list_reports(self, statuses: Iterable[Status] | None) -> list[Report]:
        """Reports (newest first) in two queries: the reports, then all their attachments."""
        filtered = _status_filter("status", statuses)
        if filtered is None:
            return []
        where, params = filtered
        with self._lock:
            rows = self.query(
                f"SELECT {_REPORT_COLS} FROM reports {where} "  # noqa: S608 - placeholders only
                "ORDER BY created_at DESC, seq DESC",
                params,
            )
            atts = self.query(
                f"SELECT {_ATT_COLS} FROM report_files WHERE report_id IN "  # noqa: S608
                f"(SELECT id FROM reports {where}) ORDER BY report_id, position",
                params,
            )
        by_report: dict[str, list[Attachment]] = {}
        for a in atts:
            by_report.setdefault(a[1], []).append(self._attachment(a))
        return [self._report(r, by_report.get(r[0], [])) for r in rows]

    def report_rows(self, statuses: Iterable[Status] | None) -> list[tuple[Any, ...]]:
        """One plain tuple per report (newest first), aggregated in SQL; see REPORT_ROW_FIELDS.

        One query, no Report/Attachment objects and no timestamp parsing: what a table of
        thousands of reports needs. ``bytes_sent`` counts at most ``size`` per file, as
        ``Report.bytes_sent`` does.
        """
        filtered = _status_filter("r.status", statuses)
        if filtered is None:
            return []
        where, params = filtered
        sql = (
            "SELECT r.id, r.title, r.status, r.reason, r.created_at, r.updated_at, "
            "r.submitted_at, COUNT(f.id), COALESCE(SUM(f.size), 0), "
            "COALESCE(SUM(MIN(f.bytes_sent, f.size)), 0), r.remote_folder, r.attempts, "
            "GROUP_CONCAT(DISTINCT f.verification) "
            "FROM reports r LEFT JOIN report_files f ON f.report_id = r.id "
            + where  # placeholders only
            + " GROUP BY r.id ORDER BY r.created_at DESC, r.seq DESC"
        )
        return self.query(sql, params)

    # --- the connection -----------------------------------------------------------------------

    def set_connection(self, s: ConnectionSettings) -> None:
        """Store (replace) the single connection."""
        values = [getattr(s, name) for name in _CONN_FIELDS]
        values[_CONN_FIELDS.index("encrypt_to")] = "\n".join(s.encrypt_to)
        with self.transaction() as cur:
            cur.execute("DELETE FROM connection")
            cur.execute(
                f"INSERT INTO connection (id, {', '.join(_CONN_FIELDS)}) "  # noqa: S608
                f"VALUES (1, {', '.join('?' * len(_CONN_FIELDS))})",
                [int(v) if isinstance(v, bool) else v for v in values],
            )

    def get_connection(self) -> ConnectionSettings | None:
        """The stored connection, or None."""
        columns = ", ".join(_CONN_FIELDS)
        rows = self.query(f"SELECT {columns} FROM connection WHERE id = 1")  # noqa: S608
        if not rows:
            return None
        values = dict(zip(_CONN_FIELDS, rows[0], strict=True))
        for name in _CONN_BOOLS:
            values[name] = bool(values[name])
        values["encrypt_to"] = tuple(r for r in values["encrypt_to"].split("\n") if r)
        return ConnectionSettings(**values)

    def delete_connection(self) -> None:
        """Forget the connection and what was learned of its link (secure_delete overwrites
        the freed pages)."""
        with self.transaction() as cur:
            cur.execute("DELETE FROM connection")
            cur.execute("DELETE FROM link_stats")

    # --- the link to a server -----------------------------------------------------------------

    def get_link_stats(self, server_url: str) -> LinkStats | None:
        """What was learned of the link to ``server_url``, or None."""
        rows = self.query(
            "SELECT between_drops, throughput, streak, drops, updated_at FROM link_stats "
            "WHERE server_url = ?",
            (server_url,),
        )
        if not rows:
            return None
        between, throughput, streak, drops, updated = rows[0]
        return LinkStats(between, throughput, streak, drops, _parse_dt(updated))

    def set_link_stats(self, server_url: str, stats: LinkStats) -> None:
        """Store (replace) what was learned of the link to ``server_url``."""
        with self.transaction() as cur:
            cur.execute(
                "INSERT OR REPLACE INTO link_stats "
                "(server_url, between_drops, throughput, streak, drops, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    server_url,
                    stats.between_drops,
                    stats.throughput,
                    stats.streak,
                    stats.drops,
                    _ts(stats.updated_at or now()),
                ),
            )


def _status_filter(column: str, statuses: Iterable[Status] | None) -> tuple[str, list[str]] | None:
    """``("WHERE col IN (?, ...)", values)``; ``("", [])`` for all; None when nothing can match."""
    if statuses is None:
        return "", []
    params = [Status(s).value for s in statuses]
    if not params:
        return None
    return f"WHERE {column} IN ({', '.join('?' * len(params))})", params
