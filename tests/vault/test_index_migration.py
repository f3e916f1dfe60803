"""index.db schema migrations: an index written by an older tellakit opens and gains the new
columns (v3, issue 13: the connection's encrypt_to and readable_names; v4: each report's
sealed layout and its files' keys) with their defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlcipher3 import dbapi2 as sqlcipher

from tellakit.errors import VaultCorrupted
from tellakit.vault import ConnectionSettings, Vault, open_vault
from tellakit.vault.index import _SCHEMA, SCHEMA_VERSION, Index

from .conftest import PASSPHRASE

KEY = bytes(range(32))
#: (table, column) that schema version 4 added.
VERSION_4 = [
    ("reports", "sealed_to"),
    ("reports", "readable_names"),
    ("reports", "description_key"),
    ("report_files", "sealed_key"),
    ("report_files", "sealed_sha256"),
]


def drop_version_4(con: Any) -> None:
    """Back to schema 3's shape: drop the columns version 4 added."""
    for table, column in VERSION_4:
        con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")


def _old_index(path: Path, version: int) -> None:
    """An index as tellakit 0.1.0 (schema 1) wrote it, with a connection stored."""
    con = sqlcipher.connect(str(path), isolation_level=None)
    con.execute(f"PRAGMA key = \"x'{KEY.hex()}'\"")
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            con.execute(statement)
    # Back to version 1's shape: drop what versions 2, 3 and 4 added.
    drop_version_4(con)
    for statement in (
        "ALTER TABLE files DROP COLUMN raw_name",
        "DROP TABLE deleted_blobs",
        "DROP TABLE rekey_blobs",
        "ALTER TABLE connection DROP COLUMN encrypt_to",
        "ALTER TABLE connection DROP COLUMN readable_names",
    ):
        con.execute(statement)
    con.execute(
        "INSERT INTO connection VALUES (1, 'https://cloud.example.org', 'alice', 'alice', 'pw', "
        "1, 'Tella', 0, 1, 0)"
    )
    con.execute(f"PRAGMA user_version = {version}")
    con.close()


def test_a_version_1_index_is_migrated_and_keeps_its_connection(tmp_path: Path) -> None:
    path = tmp_path / "index.db"
    _old_index(path, 1)
    index = Index(path, KEY)
    settings = index.get_connection()
    assert settings is not None
    assert (settings.server_url, settings.password, settings.is_app_password) == (
        "https://cloud.example.org",
        "pw",
        True,
    )
    assert settings.encrypt_to == () and settings.readable_names is False
    assert index.query("PRAGMA user_version")[0][0] == SCHEMA_VERSION == 4
    recipients = ("age1one", "ssh-ed25519 AAAAtwo")
    index.set_connection(
        ConnectionSettings("https://x", "b", "b", "p", encrypt_to=recipients, readable_names=True)
    )
    index.close()
    again = Index(path, KEY)
    stored = again.get_connection()
    assert stored is not None and stored.encrypt_to == recipients and stored.readable_names
    again.close()


def test_a_new_index_has_the_same_columns_as_a_migrated_one(tmp_path: Path) -> None:
    _old_index(tmp_path / "old.db", 1)
    migrated = Index(tmp_path / "old.db", KEY)
    fresh = Index.create(tmp_path / "new.db", KEY)
    columns = "SELECT name, type, dflt_value FROM pragma_table_info(?) ORDER BY cid"
    for table in ("connection", "reports", "report_files", "files"):
        assert migrated.query(columns, (table,)) == fresh.query(columns, (table,)), table
    migrated.close()
    fresh.close()


def test_an_index_from_a_newer_tellakit_is_refused(tmp_path: Path) -> None:
    _old_index(tmp_path / "index.db", SCHEMA_VERSION + 1)
    with pytest.raises(VaultCorrupted, match="schema version"):
        Index(tmp_path / "index.db", KEY)


def test_a_version_3_index_fixes_the_layout_of_reports_already_on_their_way(vault: Vault) -> None:
    """Reports with a folder on the server (or submitted) stay readable; the other outbox
    reports are fixed when they next leave for the server (sealed_to stays NULL)."""
    f = vault.import_bytes(b"x", "x.txt")
    started = vault.create_report("started", "", [f.id])
    waiting = vault.create_report("waiting", "", [f.id])
    draft = vault.create_report("draft", "", [f.id])
    con = vault._index._con
    for report in (started, waiting):
        con.execute("UPDATE reports SET status = 'queued' WHERE id = ?", (report.id,))
    con.execute("UPDATE reports SET remote_folder = 'Tella/started' WHERE id = ?", (started.id,))
    drop_version_4(con)
    con.execute("PRAGMA user_version = 3")
    vault.close()
    with open_vault(vault.path, PASSPHRASE) as again:
        assert again.get_report(started.id).sealed_to == ()
        assert again.get_report(waiting.id).sealed_to is None
        assert again.get_report(draft.id).sealed_to is None
        assert again.get_report(started.id).attachments[0].sealed_key is None
