"""One test per finding of the vault security review (issue 15), each failing before its fix.

1 a missing, empty or older index.db made open_vault delete blobs; 2 quick delete could leave
an identity behind; 3 the clean-up followed symlinks; 4 files readable by every local user;
5 two passphrase changes shared one temporary name; 6 an interrupt after the commit removed
the committed blob; 7 a huge work factor escaped as ValueError; 8 odd names; 9 the marker was
not fsynced and quick delete refused a locked vault.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tellakit.errors import (
    ImportRefused,
    IndexForeign,
    IndexMissing,
    IndexStale,
    VaultBusy,
    VaultCorrupted,
    VaultError,
    WrongPassphrase,
)
from tellakit.vault import Vault, age, create_vault, keys, open_vault
from tellakit.vault.age.header import Stanza, parse, serialise
from tellakit.vault.index import Index

from .conftest import FAST_WORK_FACTOR, PASSPHRASE

OLD = 10 * 24 * 3600  # older than any clean-up age limit


def _age_everything(*roots: Path) -> None:
    when = time.time() - OLD
    for root in roots:
        for p in [root, *root.rglob("*")]:
            os.utime(p, (when, when), follow_symlinks=False)


def _blob_files(root: Path) -> set[str]:
    return {str(p.relative_to(root / "blobs")) for p in (root / "blobs").rglob("*") if p.is_file()}


@pytest.fixture
def closed(vault_path: Path) -> Iterator[tuple[Path, list[str]]]:
    """A closed vault with two files in it, everything aged past the clean-up limit."""
    with create_vault(vault_path, PASSPHRASE, work_factor=FAST_WORK_FACTOR) as v:
        ids = [v.import_bytes(b"first", "a.txt").id, v.import_bytes(b"second", "b.txt").id]
    _age_everything(vault_path)
    yield vault_path, ids


# --- 1: the index ---------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["missing", "empty"])
def test_1_missing_or_empty_index_is_refused_and_no_blob_is_deleted(
    closed: tuple[Path, list[str]], damage: str
) -> None:
    root, _ = closed
    blobs = _blob_files(root)
    if damage == "missing":
        (root / "index.db").unlink()
    else:
        (root / "index.db").write_bytes(b"")
    with pytest.raises(IndexMissing, match=r"index\.db .*tellakit recover"):
        open_vault(root, PASSPHRASE)
    assert _blob_files(root) == blobs
    if damage == "missing":
        assert not (root / "index.db").exists(), "only create_vault may create index.db"


def test_1_index_of_another_vault_is_refused_and_no_blob_is_deleted(
    closed: tuple[Path, list[str]], tmp_path: Path
) -> None:
    root, _ = closed
    create_vault(tmp_path / "other", PASSPHRASE, work_factor=FAST_WORK_FACTOR).close()
    shutil.copy(tmp_path / "other" / "index.db", root / "index.db")
    blobs = _blob_files(root)
    with pytest.raises(IndexForeign, match=r"index\.db .*tellakit recover"):
        open_vault(root, PASSPHRASE)
    assert _blob_files(root) == blobs


def test_1_an_older_index_deletes_nothing_and_its_missing_files_come_back(
    vault_path: Path, tmp_path: Path
) -> None:
    with create_vault(vault_path, PASSPHRASE, work_factor=FAST_WORK_FACTOR) as v:
        v.import_bytes(b"before the backup", "old.txt")
    backup = tmp_path / "index-backup.db"
    shutil.copy(vault_path / "index.db", backup)
    with open_vault(vault_path, PASSPHRASE) as v:
        newer = v.import_bytes(b"imported after the backup", "new.txt")
    blobs = _blob_files(vault_path)
    shutil.copy(backup, vault_path / "index.db")
    _age_everything(vault_path)
    with pytest.raises(IndexStale, match="tellakit recover") as refused:
        open_vault(vault_path, PASSPHRASE)
    assert _blob_files(vault_path) == blobs
    assert len(refused.value.orphans) == 1
    with open_vault(vault_path, PASSPHRASE, allow_orphans=True) as v:
        (recovered,) = v.recover_orphans().recovered
        assert (recovered.name, recovered.size, recovered.sha256) == (
            "recovered-1",
            newer.size,
            newer.sha256,
        )
        assert v.open_file(recovered.id).read() == b"imported after the backup"
    open_vault(vault_path, PASSPHRASE).close()  # no longer stale


# --- 2: quick delete ------------------------------------------------------------------------------


def _openable_identities(root: Path, passphrase: str) -> list[str]:
    found = []
    if root.exists():
        for p in root.iterdir():
            if p.name.startswith("identity.age") and p.is_file():
                try:
                    keys.read_identity(p, passphrase)
                except VaultError:
                    continue
                found.append(p.name)
    return found


def test_2_a_failed_passphrase_change_leaves_no_temporary_identity(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError, match="No space"):
        vault.change_passphrase(PASSPHRASE, "the new one")
    monkeypatch.undo()
    assert sorted(p.name for p in vault.path.iterdir() if p.name.startswith("identity")) == [
        "identity.age"
    ]


def test_2_an_interrupted_destroy_leaves_no_identity_that_opens(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault.import_bytes(b"evidence", "e.txt")
    # What an older tellakit's failed passphrase change left beside identity.age.
    legacy = keys.encrypt_identities([vault._id()], "the new one", FAST_WORK_FACTOR)
    (vault.path / "identity.age.tmp").write_bytes(legacy)
    real_unlink = Path.unlink

    def cut_at_the_index(self: Path, missing_ok: bool = False) -> None:
        if self.name.startswith("index.db"):
            raise KeyboardInterrupt
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", cut_at_the_index)
    with pytest.raises(KeyboardInterrupt):
        vault.destroy()
    monkeypatch.undo()
    assert _openable_identities(vault.path, PASSPHRASE) == []
    assert _openable_identities(vault.path, "the new one") == []
    vault.destroy()  # finishing after the interruption works on the (now locked) vault
    assert not vault.path.exists()


def test_2_quick_delete_needs_no_passphrase(vault: Vault) -> None:
    vault.import_bytes(b"evidence", "e.txt")
    vault.close()
    vault.destroy()
    assert not vault.path.exists()


# --- 3: symlinks and stray names under blobs/ -----------------------------------------------------


def test_3_the_clean_up_never_follows_a_symlink_out_of_the_vault(
    closed: tuple[Path, list[str]], tmp_path: Path
) -> None:
    root, ids = closed
    documents = tmp_path / "Documents"
    documents.mkdir()
    (documents / "letter.txt").write_text("mine")
    (documents / ("ab" + "0" * 30)).write_text("named like a blob")
    (root / "blobs" / "zz").symlink_to(documents, target_is_directory=True)
    some_blob = next((root / "blobs").glob("*/*"))
    (root / "blobs" / "ab").mkdir(exist_ok=True)
    (root / "blobs" / "ab" / ("ab" + "1" * 30)).symlink_to(documents / "letter.txt")
    _age_everything(root, documents)
    with open_vault(root, PASSPHRASE) as v:
        assert v.open_file(ids[0]).read() == b"first"
    assert sorted(p.name for p in documents.iterdir()) == sorted(["letter.txt", "ab" + "0" * 30])
    assert some_blob.exists()


def test_3_a_stray_folder_under_blobs_does_not_break_opening(
    closed: tuple[Path, list[str]],
) -> None:
    root, ids = closed
    blob_dir = next(p for p in (root / "blobs").iterdir() if p.is_dir())
    (blob_dir / "Thumbs").mkdir()
    (blob_dir / "Thumbs" / "x.db").write_bytes(b"x")
    (root / "blobs" / "notes.txt").write_text("a stray file")
    _age_everything(root)
    with open_vault(root, PASSPHRASE) as v:
        assert v.open_file(ids[1]).read() == b"second"
    assert (blob_dir / "Thumbs" / "x.db").exists()
    assert (root / "blobs" / "notes.txt").exists()


# --- 4: permissions -------------------------------------------------------------------------------


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.usefixtures("umask_022")
def test_4_every_vault_file_is_private_under_umask_022(vault_path: Path) -> None:
    with create_vault(vault_path, PASSPHRASE, work_factor=FAST_WORK_FACTOR) as v:
        v.import_bytes(b"evidence", "e.txt")
        v.create_report("While the WAL exists")
        entries = [vault_path, *vault_path.rglob("*")]
        assert {p.name for p in entries} >= {"index.db-wal", "index.db-shm", "identity.age"}
        loose = {
            str(p): oct(stat.S_IMODE(p.lstat().st_mode))
            for p in entries
            if stat.S_IMODE(p.lstat().st_mode) != (0o700 if p.is_dir() else 0o600)
        }
    assert loose == {}


# --- 5: concurrent passphrase changes -------------------------------------------------------------


def test_5_two_passphrase_changes_at_once_leave_one_working_identity(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thread A stops just before its rename; B changes the passphrase meanwhile (or waits)."""
    other = open_vault(vault.path, PASSPHRASE)
    a_at_rename, b_done = threading.Event(), threading.Event()
    real_replace = os.replace
    a_thread: list[threading.Thread] = []

    def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if a_thread and threading.current_thread() is a_thread[0] and not a_at_rename.is_set():
            a_at_rename.set()
            b_done.wait(timeout=2)
        real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    outcome: dict[str, BaseException | None] = {}

    def change(name: str, v: Vault, new: str) -> None:
        try:
            v.change_passphrase(PASSPHRASE, new)
            outcome[name] = None
        except BaseException as exc:
            outcome[name] = exc

    a = threading.Thread(target=change, args=("a", vault, "passphrase A"))
    a_thread.append(a)
    a.start()
    assert a_at_rename.wait(timeout=10)
    b = threading.Thread(target=change, args=("b", other, "passphrase B"))
    b.start()
    b.join(timeout=0.5)
    b_done.set()
    a.join(timeout=30)
    b.join(timeout=30)
    other.close()
    monkeypatch.undo()
    assert outcome["a"] is None
    assert isinstance(outcome["b"], VaultBusy), repr(outcome["b"])  # B read the old file
    assert sorted(p.name for p in vault.path.iterdir() if p.name.startswith("identity")) == [
        "identity.age"
    ]
    opens = _openable_identities(vault.path, "passphrase A") + _openable_identities(
        vault.path, "passphrase B"
    )
    assert opens == ["identity.age"]


# --- 6: an interrupt right after the commit -------------------------------------------------------


def test_6_an_interrupt_after_the_commit_keeps_the_committed_blob(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_add = Index.add_file

    def add_then_interrupt(self: Index, *args: Any, **kwargs: Any) -> None:
        real_add(self, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(Index, "add_file", add_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        vault.import_bytes(b"committed evidence", "c.txt")
    monkeypatch.undo()
    (f,) = vault.list_files()
    assert vault.open_file(f.id).read() == b"committed evidence"
    vault.close()
    with open_vault(vault.path, PASSPHRASE) as again:
        assert again.open_file(f.id).read() == b"committed evidence"


# --- 7: a huge work factor ------------------------------------------------------------------------


def test_7_a_work_factor_of_thousands_of_digits_is_vault_corrupted(vault: Vault) -> None:
    vault.close()
    path = vault.path / "identity.age"
    header = parse(io.BytesIO(path.read_bytes()))
    salt = header.stanzas[0].args[0]
    forged = serialise([Stanza("scrypt", [salt, "9" * 5000], header.stanzas[0].body)], bytes(16))
    path.write_bytes(forged + bytes(16) + bytes(40))
    with pytest.raises(VaultCorrupted):
        open_vault(vault.path, PASSPHRASE)


def test_7_the_work_factor_check_happens_before_int(vault: Vault) -> None:
    stanza = Stanza("scrypt", [age.header.b64encode(bytes(16)), "1" + "0" * 5000], bytes(32))
    with pytest.raises(VaultError):
        age.scrypt_work_factor(stanza)


# --- 8: names and originals -----------------------------------------------------------------------


class CountingReader(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self.data, self.reads = io.BytesIO(data), 0

    def read(self, n: int = -1) -> bytes:
        self.reads += 1
        return self.data.read(n)


@pytest.mark.skipif(os.name != "posix", reason="byte file names are a POSIX matter")
def test_8_a_name_that_is_not_utf8_is_imported_and_exported_with_its_bytes(
    vault: Vault, tmp_path: Path
) -> None:
    raw = b"IMG_\xe9t\xe9.jpg"  # Latin-1, as old cameras write it
    src_dir = tmp_path / "card"
    src_dir.mkdir()
    src = os.path.join(os.fsencode(src_dir), raw)
    with open(src, "wb") as f:
        f.write(b"jpeg bytes")
    vfile = vault.import_path(os.fsdecode(src))
    assert vfile.name == "IMG_\ufffdt\ufffd.jpg"  # shown safely
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    written = vault.export_file(vfile.id, out_dir)
    assert os.listdir(os.fsencode(out_dir)) == [raw]
    assert Path(written).read_bytes() == b"jpeg bytes"


@pytest.mark.parametrize("name", ["x" * 5000 + ".jpg", "\ud800.txt"])
def test_8_bad_names_are_refused_before_anything_is_encrypted(vault: Vault, name: str) -> None:
    source = CountingReader(b"some content")
    with pytest.raises(ImportRefused, match="name"):
        vault.import_fileobj(source, name)  # type: ignore[arg-type]
    assert source.reads == 0
    assert vault.list_files() == []
    assert _blob_files(vault.path) == set()


def test_8_a_nul_is_shown_as_a_replacement_and_a_long_name_exported_shortened(
    vault: Vault, tmp_path: Path
) -> None:
    f = vault.import_bytes(b"data", "a\x00b.txt")
    assert f.name == "a\ufffdb.txt"
    assert vault.export_file(f.id, tmp_path).name == "a\ufffdb.txt"
    long = vault.import_bytes(b"long", "\u00fc" * 300 + ".mp4")
    assert long.name == "\u00fc" * 300 + ".mp4"  # kept whole in the vault
    written = vault.export_file(long.id, tmp_path)
    assert written.name.endswith(".mp4") and len(os.fsencode(written.name)) <= 255
    assert written.read_bytes() == b"long"


def test_8_a_nul_in_an_old_name_does_not_break_export(vault: Vault, tmp_path: Path) -> None:
    f = vault.import_bytes(b"data", "fine.txt")
    with vault._index.transaction() as cur:  # a name stored by an older tellakit
        cur.execute("UPDATE files SET name = ? WHERE id = ?", ("bad\x00name.txt", f.id))
    written = vault.export_file(f.id, tmp_path)
    assert written.read_bytes() == b"data"
    assert "\x00" not in written.name


@pytest.mark.skipif(os.name != "posix", reason="symlinks")
def test_8_remove_original_refuses_a_symlink_and_deletes_nothing(
    vault: Vault, tmp_path: Path
) -> None:
    target = tmp_path / "clear.mp4"
    target.write_bytes(b"clear text evidence")
    link = tmp_path / "link.mp4"
    link.symlink_to(target)
    with pytest.raises(ImportRefused, match="symbolic link"):
        vault.import_path(link, remove_original=True)
    assert target.read_bytes() == b"clear text evidence"
    assert link.is_symlink()
    assert vault.list_files() == []


# --- 9: the marker, the old identity, a locked vault ----------------------------------------------


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name fds")
def test_9_the_marker_is_fsynced_at_creation(
    vault_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    create_vault(vault_path, PASSPHRASE, work_factor=FAST_WORK_FACTOR).close()
    assert str(vault_path / "tellakit-vault.json") in synced


def test_9_after_a_rekey_an_old_copy_of_identity_age_opens_nothing(
    vault: Vault, tmp_path: Path
) -> None:
    f = vault.import_bytes(b"evidence", "e.txt")
    stolen = tmp_path / "stolen-identity.age"
    shutil.copy(vault.path / "identity.age", stolen)
    vault.rekey("a brand new passphrase")
    assert vault.open_file(f.id).read() == b"evidence"
    vault.close()
    old_identity, _ = keys.read_identity(stolen, PASSPHRASE)  # the old file still opens...
    blob = next((vault.path / "blobs").glob("*/*"))
    with pytest.raises(VaultError):  # ...but its identity opens no blob any more
        age.decrypt_bytes(blob.read_bytes(), [old_identity])
    with pytest.raises(WrongPassphrase):
        open_vault(vault.path, PASSPHRASE)
    with open_vault(vault.path, "a brand new passphrase") as again:
        assert again.open_file(f.id).read() == b"evidence"
