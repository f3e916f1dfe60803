"""Quick delete: identity first (overwritten, not only unlinked), no passphrase, idempotent,
only the vault's own names; another process with the vault open stops reading at once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tellakit.errors import VaultDestroyed, VaultLocked, VaultNotFound
from tellakit.vault import Vault, destroy, destroy_vault, open_vault, rekey

from .conftest import PASSPHRASE

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(os.name != "posix", reason="hard links")
def test_identity_is_overwritten_before_anything_is_removed(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault.import_bytes(b"x" * 1000, "x.bin")
    witness = vault.path.parent / "shares-blocks-with-identity.age"
    os.link(vault.path / "identity.age", witness)
    before = witness.read_bytes()
    removed: list[str] = []
    real_unlink, real_rmtree = os.unlink, destroy.shutil.rmtree

    def unlink(path: Any, *args: Any, **kwargs: Any) -> None:
        removed.append(Path(path).name)
        real_unlink(path, *args, **kwargs)

    def rmtree(path: Any, *args: Any, **kwargs: Any) -> None:
        removed.append(Path(path).name)
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    monkeypatch.setattr(destroy.shutil, "rmtree", rmtree)
    vault.destroy()
    monkeypatch.undo()
    assert removed[0] == "identity.age"
    assert removed.index("index.db") > 0 and removed.index("blobs") > 0
    assert removed[-1] == "tellakit-vault.json"
    assert witness.read_bytes() != before  # the bytes themselves were overwritten
    assert len(witness.read_bytes()) == len(before)


def test_destroy_touches_only_the_vaults_names_and_follows_no_symlink(
    vault: Vault, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not the vault's")
    (vault.path / "blobs" / "zz").symlink_to(outside, target_is_directory=True)
    (vault.path / "index.db.link").symlink_to(outside / "keep.txt")
    (vault.path / "my notes.txt").write_text("mine")
    vault.set_aside_orphans()  # creates set-aside/ (empty)
    vault.destroy()
    assert sorted(p.name for p in vault.path.iterdir()) == ["my notes.txt"]
    assert (outside / "keep.txt").read_text() == "not the vault's"


def test_destroy_is_refused_for_a_folder_without_the_marker(tmp_path: Path) -> None:
    (tmp_path / "identity.age").write_text("someone else's")
    with pytest.raises(VaultNotFound, match="nothing was deleted"):
        destroy_vault(tmp_path)
    assert (tmp_path / "identity.age").exists()
    destroy_vault(tmp_path / "never-existed")  # nothing to do


def test_destroy_also_removes_recovery_leftovers(vault: Vault) -> None:
    for name in (
        "identity.age.next",
        "identity.age.1234.tmp",
        "index.db.unusable-x",
        "index.db-wal",
    ):
        (vault.path / name).write_bytes(b"left by an interruption")
    vault.close()
    destroy_vault(vault.path)
    assert not vault.path.exists()


@pytest.mark.skipif(os.name != "posix", reason="flock")
def test_destroy_waits_briefly_for_a_passphrase_change_then_goes_on(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl

    monkeypatch.setattr(destroy, "DESTROY_LOCK_SECONDS", 0.2)
    holder = os.open(vault.path, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)  # a passphrase change that hangs
    try:
        start = time.monotonic()
        destroy_vault(vault.path)
        assert time.monotonic() - start >= 0.2
    finally:
        os.close(holder)
    assert not vault.path.exists()


def test_a_passphrase_change_after_destroy_writes_nothing(vault: Vault) -> None:
    other = open_vault(vault.path, PASSPHRASE)
    vault.destroy()
    with pytest.raises(VaultDestroyed):
        other.change_passphrase(PASSPHRASE, "new")
    assert not vault.path.exists()


DESTROY_ELSEWHERE = (
    "import sys; from tellakit.vault import destroy_vault; destroy_vault(sys.argv[1])"
)


def test_another_process_destroying_the_vault_stops_every_call_and_reader(vault: Vault) -> None:
    f = vault.import_bytes(os.urandom(4 * 1024 * 1024), "video.mp4")
    report = vault.create_report("Uploading", file_ids=[f.id])
    reader = vault.open_file(f.id)
    reader.read(1024 * 1024)
    subprocess.run(
        [sys.executable, "-c", DESTROY_ELSEWHERE, str(vault.path)],
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert vault.destroyed
    with pytest.raises(VaultDestroyed):
        vault.get_report(report.id)
    assert vault.locked
    with pytest.raises(VaultDestroyed):  # and stays so: not a mere VaultLocked
        vault.list_files()
    with pytest.raises(VaultDestroyed):
        reader.read(1024)
    assert issubclass(VaultDestroyed, VaultLocked)


def test_an_open_reader_notices_within_a_quarter_second(vault: Vault) -> None:
    f = vault.import_bytes(os.urandom(2 * 1024 * 1024), "a.bin")
    reader = vault.open_file(f.id)
    reader.read(1024)
    destroy_vault(vault.path)  # as another process would: this Vault object is not told
    time.sleep(0.3)
    with pytest.raises(VaultDestroyed):
        reader.read(1024)
    assert vault.locked


def test_quick_delete_does_not_wait_for_a_rekey_running_in_another_thread(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        vault.import_bytes(os.urandom(1000), f"{n}.bin")
    entered, gate = threading.Event(), threading.Event()
    real = rekey._write_header

    def held(*args: Any) -> None:
        entered.set()
        gate.wait(timeout=30)
        real(*args)

    monkeypatch.setattr(rekey, "_write_header", held)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            vault.rekey("new passphrase")
        except BaseException as exc:
            failures.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    assert entered.wait(timeout=30)
    vault.destroy()  # would deadlock if it waited for the re-key
    assert not any(p.name.startswith("identity.age") for p in vault.path.glob("*"))
    gate.set()
    worker.join(timeout=30)
    assert len(failures) == 1
    assert not any(p.name.startswith("identity.age") for p in vault.path.glob("*"))
    assert vault.locked
