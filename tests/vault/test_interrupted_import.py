"""Interrupted imports (exception or kill -9) leave no half attachment and the vault opens."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tellakit.errors import IndexStale
from tellakit.vault import create_vault, open_vault
from tellakit.vault.blobs import PARTIAL, STALE_SECONDS

from .conftest import FAST_WORK_FACTOR, PASSPHRASE

CHILD = r"""
import sys, time
from tellakit.vault import open_vault

vault = open_vault(sys.argv[1], sys.argv[2])
vault.import_bytes(b"committed before the kill", "first.txt")

class Endless:
    def __init__(self):
        self.n = 0
    def read(self, size=-1):
        self.n += 1
        if self.n == 5:
            print("importing", flush=True)
        if self.n > 5:
            time.sleep(0.05)
        return b"x" * 65536

vault.import_fileobj(Endless(), "never-finished.bin")
"""


def _age_everything(root: Path) -> None:
    old = time.time() - STALE_SECONDS - 60
    for p in root.rglob("*"):
        os.utime(p, (old, old))


@pytest.mark.timeout(120)
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX kill -9")
def test_kill_9_during_import_leaves_no_half_attachment(tmp_path: Path) -> None:
    root = tmp_path / "vault"
    create_vault(root, PASSPHRASE, work_factor=FAST_WORK_FACTOR).close()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), PASSPHRASE],
        stdout=subprocess.PIPE,
        env=env,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == b"importing"
    time.sleep(0.3)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    partials = [p for p in root.rglob(f"*{PARTIAL}")]
    assert partials, "the kill should have caught the import mid-way"

    with open_vault(root, PASSPHRASE) as vault:
        files = vault.list_files()
        assert [f.name for f in files] == ["first.txt"]
        assert vault.open_file(files[0].id).read() == b"committed before the kill"
        # a fresh partial might belong to an import still running elsewhere: kept for now
        assert all(p.exists() for p in partials)

    _age_everything(root / "blobs")
    with open_vault(root, PASSPHRASE) as vault:
        assert [f.name for f in vault.list_files()] == ["first.txt"]
        assert not any(p.exists() for p in partials)


def test_a_kill_between_commit_and_rename_is_finished_on_open(tmp_path: Path) -> None:
    # The row is committed before the rename: what a kill right after the commit leaves.
    root = tmp_path / "vault"
    with create_vault(root, PASSPHRASE, work_factor=FAST_WORK_FACTOR) as vault:
        kept = vault.import_bytes(b"committed, not yet renamed", "kept.txt")
        blob = vault._blobs.path(vault._index.get_file(kept.id)[1])
    os.replace(blob, blob.with_name(blob.name + PARTIAL))
    with open_vault(root, PASSPHRASE) as vault:
        assert blob.exists()
        assert vault.open_file(kept.id).read() == b"committed, not yet renamed"


def test_a_blob_no_row_lists_is_never_deleted(tmp_path: Path) -> None:
    root = tmp_path / "vault"
    with create_vault(root, PASSPHRASE, work_factor=FAST_WORK_FACTOR) as vault:
        kept = vault.import_bytes(b"kept", "kept.txt")
        stray = vault.import_bytes(b"its row will be lost", "lost.txt")
        blob = vault._blobs.path(vault._index.get_file(stray.id)[1])
        with vault._index.transaction() as cur:  # as if index.db came from an older backup
            cur.execute("DELETE FROM files WHERE id = ?", (stray.id,))
    _age_everything(root / "blobs")
    with pytest.raises(IndexStale) as refused:
        open_vault(root, PASSPHRASE)
    assert refused.value.orphans == [f"{blob.parent.name}/{blob.name}"]
    assert blob.exists()
    with open_vault(root, PASSPHRASE, allow_orphans=True) as vault:
        assert vault.orphans() == refused.value.orphans
        assert vault.open_file(kept.id).read() == b"kept"
    assert blob.exists()
