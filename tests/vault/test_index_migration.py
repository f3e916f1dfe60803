"""index.db schema migrations: an index written by an older tellakit opens and gains the new
columns (v3, issue 13: the connection's encrypt_to and readable_names; v4, issue 14: how each
file was verified, the upload's digest answer, re-sends, and the connection's without_digest;
v5, issue 13: each report's sealed layout and its files' keys; v6, issues 10 and 16:
report_files.chunk_map and the link_stats table) with their defaults."""

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


def _drops(columns: list[tuple[str, str]]) -> tuple[str, ...]:
    return tuple(f"ALTER TABLE {table} DROP COLUMN {column}" for table, column in columns)


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
    4: _drops(VERSION_4),
    5: _drops(VERSION_5),
    6: ("ALTER TABLE report_files DROP COLUMN chunk_map", "DROP TABLE link_stats"),
}
OLDER = range(1, SCHEMA_VERSION)


def back_to(con: Any, version: int) -> None:
    """Give a current index the shape and the number of schema ``version``: undo the later
    versions, the newest first."""
    for added in sorted(_ADDED_IN, reverse=True):
        if added > version:
            for statement in _ADDED_IN[added]:
                con.execute(statement)
    con.execute(f"PRAGMA user_version = {version}")


def _old_index(path: Path, version: int) -> None:
    """An index as a tellakit of schema ``version`` wrote it, with a connection stored."""
    con = sqlcipher.connect(str(path), isolation_level=None)
    con.execute(f"PRAGMA key = \"x'{KEY.hex()}'\"")
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            con.execute(statement)
    back_to(con, version)
    con.execute(
        "INSERT INTO connection (id, server_url, login, user_id, password, is_app_password, "
        "root_folder, allow_insecure_http, upload_manifest, auto_retry) "
        "VALUES (1, 'https://cloud.example.org', 'alice', 'alice', 'pw', 1, 'Tella', 0, 1, 0)"
    )
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
    assert index.query("PRAGMA user_version")[0][0] == SCHEMA_VERSION == 6
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
    columns = "SELECT name, type, dflt_value FROM pragma_table_info(?) ORDER BY cid"
    for table in ("connection", "reports", "report_files", "files", "link_stats"):
        assert migrated.query(columns, (table,)) == fresh.query(columns, (table,)), table
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


def _reopened_as(vault: Vault, version: int, *, files: str = "") -> Vault:
    """``vault`` closed with an index of schema ``version`` (after running ``files``, an
    UPDATE of report_files, on it), then opened again: migrated."""
    con = vault._index._con
    if files:
        con.execute(f"UPDATE report_files SET {files}")  # noqa: S608 - the test's own text
    back_to(con, version)
    vault.close()
    again = open_vault(vault.path, PASSPHRASE)
    assert again._index.query("PRAGMA user_version")[0][0] == SCHEMA_VERSION == 6
    return again


def test_a_version_3_index_fixes_the_layout_of_reports_already_on_their_way(vault: Vault) -> None:
    """Reports with a folder on the server (or submitted) stay readable; the other outbox
    reports are fixed when they next leave for the server (sealed_to stays NULL)."""
    started, waiting, draft = _outbox(vault)
    with _reopened_as(vault, 3) as again:
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
    files = "state = 'uploaded', server_digest = 'upload_answer:ab', resends = 1"
    with _reopened_as(vault, 4, files=files) as again:
        assert again.get_connection().without_digest == "size_only"
        kept = again.get_report(started)
        assert kept.sealed_to == () and not kept.readable_names
        att = kept.attachments[0]
        assert (att.server_digest, att.resends) == ("upload_answer:ab", 1)
        assert att.sealed_key is None and att.sealed_sha256 is None
        assert again.get_report(waiting).sealed_to is None


def test_a_version_5_index_keeps_its_sealed_records_and_gains_the_chunk_map(vault: Vault) -> None:
    """An index written before field links (schema 5): a sealed report's keys and ciphertext
    digest survive; its uploads have no chunk map (they resume from the server's listing) and
    no link has been measured yet."""
    started, _, _ = _outbox(vault)
    files = "sealed_key = 'key line', sealed_sha256 = 'ab', bytes_sent = 7"
    with _reopened_as(vault, 5, files=files) as again:
        att = again.get_report(started).attachments[0]
        assert (att.sealed_key, att.sealed_sha256, att.bytes_sent) == ("key line", "ab", 7)
        assert att.chunk_map is None
        assert again._index.get_link_stats("https://cloud.example.org") is None
