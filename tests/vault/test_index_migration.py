"""index.db schema migrations: an index written by an older tellakit opens and gains the new
columns (v3, issue 13: the connection's encrypt_to and readable_names; v4, issue 14: how each
file was verified, the upload's digest answer, re-sends, and the connection's without_digest;
v5, issue 13: each report's sealed layout and its files' keys) with their defaults."""

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
#: (table, column) that schema version 4 added (verification, issue 14).
VERSION_4 = [
    ("connection", "without_digest"),
    ("report_files", "verification"),
    ("report_files", "server_digest"),
    ("report_files", "resends"),
]
#: (table, column) that schema version 5 added (sealed submissions, issue 13).
VERSION_5 = [
    ("reports", "sealed_to"),
    ("reports", "readable_names"),
    ("reports", "description_key"),
    ("report_files", "sealed_key"),
    ("report_files", "sealed_sha256"),
]


def _drop(con: Any, columns: list[tuple[str, str]]) -> None:
    for table, column in columns:
        con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")


def drop_version_5(con: Any) -> None:
    """Back to schema 4's shape (main's index before sealed submissions)."""
    _drop(con, VERSION_5)


def drop_version_4(con: Any) -> None:
    """From schema 4's shape back to schema 3's: drop the columns version 4 added."""
    _drop(con, VERSION_4)


def _old_index(path: Path, version: int) -> None:
    """An index as tellakit 0.1.0 (schema 1) wrote it, with a connection stored."""
    con = sqlcipher.connect(str(path), isolation_level=None)
    con.execute(f"PRAGMA key = \"x'{KEY.hex()}'\"")
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            con.execute(statement)
    # Back to version 1's shape: drop what versions 2 to 5 added.
    drop_version_5(con)
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
    assert settings.without_digest == "download"
    assert index.query("PRAGMA user_version")[0][0] == SCHEMA_VERSION == 5
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


def _outbox(vault: Vault) -> tuple[str, str, str]:
    """Ids of three reports of one file: queued with a folder on the server, queued without
    one, and a draft."""
    f = vault.import_bytes(b"x", "x.txt")
    started, waiting, draft = (vault.create_report(t, "", [f.id]).id for t in ("s", "w", "d"))
    con = vault._index._con
    for report_id in (started, waiting):
        con.execute("UPDATE reports SET status = 'queued' WHERE id = ?", (report_id,))
    con.execute("UPDATE reports SET remote_folder = 'Tella/s' WHERE id = ?", (started,))
    return started, waiting, draft


def test_a_version_3_index_fixes_the_layout_of_reports_already_on_their_way(vault: Vault) -> None:
    """Reports with a folder on the server (or submitted) stay readable; the other outbox
    reports are fixed when they next leave for the server (sealed_to stays NULL)."""
    started, waiting, draft = _outbox(vault)
    con = vault._index._con
    drop_version_5(con)
    drop_version_4(con)
    con.execute("PRAGMA user_version = 3")
    vault.close()
    with open_vault(vault.path, PASSPHRASE) as again:
        assert again.get_report(started).sealed_to == ()
        assert again.get_report(waiting).sealed_to is None
        assert again.get_report(draft).sealed_to is None
        assert again.get_report(started).attachments[0].sealed_key is None


def test_a_version_4_index_keeps_its_verification_records_and_fixes_layouts(vault: Vault) -> None:
    """An index written by tellakit before sealed submissions (schema 4): the files' records of
    how they were verified survive, the connection's without_digest too, and a report already
    on the server stays in the readable layout."""
    started, waiting, _ = _outbox(vault)
    vault._index.set_connection(
        ConnectionSettings("https://x", "b", "b", "p", without_digest="size_only")
    )
    con = vault._index._con
    con.execute(
        "UPDATE report_files SET state = 'uploaded', server_digest = 'upload_answer:ab', "
        "resends = 1 WHERE report_id = ?",
        (started,),
    )
    drop_version_5(con)
    con.execute("PRAGMA user_version = 4")
    vault.close()
    with open_vault(vault.path, PASSPHRASE) as again:
        assert again._index.query("PRAGMA user_version")[0][0] == SCHEMA_VERSION == 5
        assert again.get_connection().without_digest == "size_only"
        kept = again.get_report(started)
        assert kept.sealed_to == () and not kept.readable_names
        att = kept.attachments[0]
        assert (att.server_digest, att.resends) == ("upload_answer:ab", 1)
        assert att.sealed_key is None and att.sealed_sha256 is None
        assert again.get_report(waiting).sealed_to is None
