"""index.db: encrypted with SQLCipher under the identity-derived key, versioned schema."""

from __future__ import annotations

import pytest
from sqlcipher3 import dbapi2 as sqlcipher

from tellakit.errors import VaultCorrupted
from tellakit.vault import Vault, open_vault
from tellakit.vault.index import SCHEMA_VERSION

from .conftest import PASSPHRASE


def test_index_is_not_a_plain_sqlite_file(vault: Vault) -> None:
    vault.close()
    head = (vault.path / "index.db").read_bytes()[:16]
    assert head != b"SQLite format 3\x00"
    plain = sqlcipher.connect(str(vault.path / "index.db"))
    with pytest.raises(sqlcipher.DatabaseError):
        plain.execute("SELECT count(*) FROM sqlite_master").fetchone()
    plain.close()


def test_pragmas_keep_temporary_data_in_memory_and_schema_versioned(vault: Vault) -> None:
    con = vault._index._con
    assert con.execute("PRAGMA temp_store").fetchone()[0] == 2  # MEMORY
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert con.execute("PRAGMA cipher_version").fetchone()[0].startswith("4.")
    assert con.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_newer_schema_is_refused_not_rewritten(vault: Vault) -> None:
    vault._index._con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    vault.close()
    with pytest.raises(VaultCorrupted, match="schema version"):
        open_vault(vault.path, PASSPHRASE)


def test_corrupted_index_is_vault_corrupted(vault: Vault) -> None:
    vault.close()
    path = vault.path / "index.db"
    raw = bytearray(path.read_bytes())
    raw[:4096] = bytes(4096)  # wipe the first page (salt and schema)
    path.write_bytes(bytes(raw))
    with pytest.raises(VaultCorrupted):
        open_vault(vault.path, PASSPHRASE)
