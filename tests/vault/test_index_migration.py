"""index.db schema migrations: an index written by an older tellakit opens and gains the new
columns (v3, issue 13: the connection's encrypt_to and readable_names; v4, issue 14: how each
file was verified, the upload's digest answer, re-sends, and the connection's without_digest;
v5, issues 10 and 16: report_files.chunk_map and the link_stats table) with their defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlcipher3 import dbapi2 as sqlcipher

from tellakit.errors import VaultCorrupted
from tellakit.vault import ConnectionSettings
from tellakit.vault.index import _SCHEMA, SCHEMA_VERSION, Index

KEY = bytes(range(32))


#: What each schema version added, undone: an index of version N lacks what N + 1 .. added.
_ADDED_IN = {
    2: (
        "ALTER TABLE files DROP COLUMN raw_name",
        "DROP TABLE deleted_blobs",
        "DROP TABLE rekey_blobs",
    ),
    3: (
        "ALTER TABLE connection DROP COLUMN encrypt_to",
        "ALTER TABLE connection DROP COLUMN readable_names",
    ),
    4: (
        "ALTER TABLE connection DROP COLUMN without_digest",
        "ALTER TABLE report_files DROP COLUMN verification",
        "ALTER TABLE report_files DROP COLUMN server_digest",
        "ALTER TABLE report_files DROP COLUMN resends",
    ),
    5: ("ALTER TABLE report_files DROP COLUMN chunk_map", "DROP TABLE link_stats"),
}
OLDER = range(1, SCHEMA_VERSION)


def _old_index(path: Path, version: int) -> None:
    """An index as a tellakit of schema ``version`` wrote it, with a connection stored."""
    con = sqlcipher.connect(str(path), isolation_level=None)
    con.execute(f"PRAGMA key = \"x'{KEY.hex()}'\"")
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            con.execute(statement)
    for added, statements in _ADDED_IN.items():
        if added > version:
            for statement in statements:
                con.execute(statement)
    con.execute(
        "INSERT INTO connection (id, server_url, login, user_id, password, is_app_password, "
        "root_folder, allow_insecure_http, upload_manifest, auto_retry) "
        "VALUES (1, 'https://cloud.example.org', 'alice', 'alice', 'pw', 1, 'Tella', 0, 1, 0)"
    )
    con.execute(f"PRAGMA user_version = {version}")
    con.close()


def test_every_schema_version_is_undone_by_the_test() -> None:
    assert sorted(_ADDED_IN) == list(range(2, SCHEMA_VERSION + 1))


@pytest.mark.parametrize("version", OLDER)
def test_an_older_index_is_migrated_and_keeps_its_connection(tmp_path: Path, version: int) -> None:
    path = tmp_path / "index.db"
    _old_index(path, version)
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


@pytest.mark.parametrize("version", OLDER)
def test_a_new_index_has_the_same_columns_as_a_migrated_one(tmp_path: Path, version: int) -> None:
    _old_index(tmp_path / "old.db", version)
    migrated = Index(tmp_path / "old.db", KEY)
    fresh = Index.create(tmp_path / "new.db", KEY)
    for table in ("connection", "report_files", "link_stats"):
        columns = f"SELECT name, type, dflt_value FROM pragma_table_info('{table}') ORDER BY cid"  # noqa: S608
        assert migrated.query(columns) == fresh.query(columns), table
    migrated.close()
    fresh.close()


def test_an_index_from_a_newer_tellakit_is_refused(tmp_path: Path) -> None:
    _old_index(tmp_path / "index.db", SCHEMA_VERSION + 1)
    with pytest.raises(VaultCorrupted, match="schema version"):
        Index(tmp_path / "index.db", KEY)


def test_link_stats_survive_reopening_and_leave_with_the_connection(tmp_path: Path) -> None:
    from tellakit.vault import LinkStats

    path = tmp_path / "index.db"
    index = Index.create(path, KEY)
    assert index.get_link_stats("https://cloud.example.org") is None
    index.set_connection(ConnectionSettings("https://cloud.example.org", "a", "a", "p"))
    index.set_link_stats("https://cloud.example.org", LinkStats(8e6, 1.5e6, 123, 4))
    index.close()
    again = Index(path, KEY)
    stats = again.get_link_stats("https://cloud.example.org")
    assert stats is not None
    assert (stats.between_drops, stats.throughput, stats.streak, stats.drops) == (
        8e6,
        1.5e6,
        123,
        4,
    )
    assert stats.updated_at is not None
    again.delete_connection()
    assert again.get_link_stats("https://cloud.example.org") is None
    again.close()
