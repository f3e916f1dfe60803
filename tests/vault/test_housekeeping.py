"""What opening a vault finishes, and what it never touches: live imports, deletions cut short,
orphans (recover, set aside, a lost index rebuilt), schema migration, private modes."""

from __future__ import annotations

import io
import os
import stat
import time
from pathlib import Path

import pytest

from tellakit.errors import IndexMissing, VaultBusy, VaultError
from tellakit.vault import (
    Vault,
    age,
    create_vault,
    loose_permissions,
    make_private,
    open_vault,
    rebuild_index,
)
from tellakit.vault.blobs import PARTIAL, STALE_SECONDS
from tellakit.vault.index import SCHEMA_VERSION

from .conftest import FAST_WORK_FACTOR, PASSPHRASE
from .test_index_migration import OLDER, back_to


def _age(path: Path) -> None:
    old = time.time() - STALE_SECONDS - 60
    os.utime(path, (old, old))


def test_a_stale_partial_of_a_live_import_is_kept_until_its_writer_lets_go(vault: Vault) -> None:
    pending = vault._blobs.write(
        io.BytesIO(b"slow upload"), age.X25519Identity.generate().recipient()
    )
    _age(pending.partial)  # stalled for a long time, but its import still runs
    open_vault(vault.path, PASSPHRASE).close()
    assert pending.partial.exists()
    pending.close()  # the import gave up without committing (or its process died)
    open_vault(vault.path, PASSPHRASE).close()
    assert not pending.partial.exists()


def test_a_deletion_cut_before_the_unlink_is_finished_on_open(vault: Vault) -> None:
    kept = vault.import_bytes(b"kept", "kept.txt")
    gone = vault.import_bytes(b"deleted", "gone.txt")
    blob = vault._blobs.path(vault._index.get_file(gone.id)[1])
    vault._index.delete_file(gone.id)  # committed; the process dies before the unlink
    vault.close()
    with open_vault(vault.path, PASSPHRASE) as again:  # not an orphan: the journal explains it
        assert not blob.exists()
        assert [f.id for f in again.list_files()] == [kept.id]
        assert again._index.pending_deletions() == set()


def test_recover_lists_what_the_identity_cannot_read_and_set_aside_moves_it(
    vault: Vault, tmp_path: Path
) -> None:
    foreign = vault.path / "blobs" / "ab" / ("ab" + "0" * 30)
    foreign.parent.mkdir(exist_ok=True)
    foreign.write_bytes(age.encrypt_bytes(b"not ours", [age.X25519Identity.generate().recipient()]))
    result = vault.recover_orphans()
    assert (result.recovered, result.unreadable) == ([], [f"ab/{foreign.name}"])
    moved = vault.set_aside_orphans(tmp_path / "aside")
    assert moved == [tmp_path / "aside" / foreign.name]
    assert vault.orphans() == []
    assert not foreign.exists()


def test_recovered_files_are_numbered_after_earlier_ones(vault: Vault) -> None:
    for content in (b"one", b"two"):
        f = vault.import_bytes(content, "x")
        with vault._index.transaction() as cur:
            cur.execute("DELETE FROM files WHERE id = ?", (f.id,))
        vault.recover_orphans()
    names = sorted(f.name for f in vault.list_files())
    assert names == ["recovered-1", "recovered-2"]


def test_a_lost_index_is_rebuilt_and_every_blob_recovered(vault: Vault) -> None:
    data = {vault.import_bytes(os.urandom(n), f"{n}.bin").sha256: n for n in (0, 10, 70000)}
    vault.close()
    (vault.path / "index.db").unlink()
    with pytest.raises(IndexMissing):
        open_vault(vault.path, PASSPHRASE)
    again, kept = rebuild_index(vault.path, PASSPHRASE)
    with again:
        assert kept == []
        recovered = again.recover_orphans().recovered
        assert {f.sha256: f.size for f in recovered} == data
        for f in recovered:
            assert len(again.open_file(f.id).read()) == f.size


def test_rebuild_keeps_the_unusable_index_and_refuses_a_working_one(vault: Vault) -> None:
    vault.close()
    with pytest.raises(VaultError, match="nothing to rebuild"):
        rebuild_index(vault.path, PASSPHRASE)
    (vault.path / "index.db").write_bytes(b"garbage" * 1000)
    again, kept = rebuild_index(vault.path, PASSPHRASE)
    again.close()
    assert [p.read_bytes()[:7] for p in kept] == [b"garbage"]
    assert kept[0].name.startswith("index.db.unusable-")


def test_rebuild_needs_the_vault_alone(vault: Vault) -> None:
    with pytest.raises(VaultBusy):  # ``vault`` is open
        rebuild_index(vault.path, PASSPHRASE)


@pytest.mark.parametrize("version", OLDER)
def test_an_older_index_is_migrated(vault: Vault, version: int) -> None:
    f = vault.import_bytes(b"from before", "old.txt")
    con = vault._index._con
    back_to(con, version)
    vault.close()
    with open_vault(vault.path, PASSPHRASE) as again:
        assert again._index._con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert again.open_file(f.id).read() == b"from before"
        again.delete_file(again.import_bytes(b"new", "new.txt").id)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_loose_permissions_are_found_and_made_private(vault: Vault) -> None:
    f = vault.import_bytes(b"x", "x")
    blob = vault._blobs.path(vault._index.get_file(f.id)[1])
    assert loose_permissions(vault.path) == []
    os.chmod(blob, 0o644)
    os.chmod(blob.parent, 0o755)  # noqa: S103 - what an older tellakit left
    assert sorted(loose_permissions(vault.path)) == sorted([blob, blob.parent])
    assert sorted(make_private(vault.path)) == sorted([blob, blob.parent])
    assert stat.S_IMODE(blob.stat().st_mode) == 0o600
    assert stat.S_IMODE(blob.parent.stat().st_mode) == 0o700
    assert loose_permissions(vault.path) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_new_files_in_an_old_loose_vault_are_private(vault_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with create_vault(vault_path, PASSPHRASE, work_factor=FAST_WORK_FACTOR) as v:
            os.chmod(v.path / "blobs", 0o755)  # noqa: S103 - what an older tellakit left
            f = v.import_bytes(b"x", "x")
            blob = v._blobs.path(v._index.get_file(f.id)[1])
            aside = v.path / "set-aside"
            with v._index.transaction() as cur:
                cur.execute("DELETE FROM files")
            v.set_aside_orphans()
    finally:
        os.umask(old)
    assert loose_permissions(vault_path) == [vault_path / "blobs"]
    assert stat.S_IMODE(aside.stat().st_mode) == 0o700
    assert stat.S_IMODE((aside / blob.name).stat().st_mode) == 0o600


def test_an_uncommitted_partial_leaves_no_visible_file(vault: Vault) -> None:
    pending = vault._blobs.write(io.BytesIO(b"abc"), age.X25519Identity.generate().recipient())
    assert pending.partial.name.endswith(PARTIAL)
    assert vault.orphans() == []  # a partial is never an orphan
    pending.discard()
    pending.close()
