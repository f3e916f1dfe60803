"""Push-style imports (Vault.begin_import): pieces in, one vault file out, or nothing at all."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from tellakit.errors import ImportIncomplete, ImportRefused, VaultLocked
from tellakit.vault import Vault, open_vault
from tellakit.vault.blobs import PARTIAL

from .conftest import PASSPHRASE


def blob_files(vault: Vault) -> list[Path]:
    return sorted(p for p in (vault.path / "blobs").rglob("*") if p.is_file())


def test_pieces_written_in_order_become_one_file_with_the_right_hash(vault: Vault) -> None:
    pieces = [os.urandom(n) for n in (1, 65535, 65536, 65537, 200_000, 3)]
    whole = b"".join(pieces)
    incoming = vault.begin_import("clip.mp4", size=len(whole))
    for piece in pieces:
        incoming.write(memoryview(piece))
    assert [p.name.endswith(PARTIAL) for p in blob_files(vault)] == [True]
    assert vault.list_files() == []  # nothing visible before commit
    vfile = incoming.commit()
    assert (vfile.name, vfile.mime, vfile.size) == ("clip.mp4", "video/mp4", len(whole))
    assert vfile.sha256 == hashlib.sha256(whole).hexdigest()
    with vault.open_file(vfile.id) as reader:
        assert reader.read() == whole
    assert [p.name.endswith(PARTIAL) for p in blob_files(vault)] == [False]


def test_the_blob_is_a_stock_age_file_and_holds_no_plaintext(vault: Vault, tmp_path: Path) -> None:
    marker = b"MARKER-" + os.urandom(8).hex().encode()
    data = marker * 5000
    incoming = vault.begin_import("notes.txt")
    incoming.write(data[:12345])
    assert all(marker not in p.read_bytes() for p in blob_files(vault))  # also mid-import
    incoming.write(data[12345:])
    vfile = incoming.commit()
    [blob] = blob_files(vault)
    assert marker not in blob.read_bytes()
    age = shutil.which("age")
    if age is None:
        return
    identity = vault.export_identity(tmp_path / "id.txt")
    out = subprocess.run([age, "-d", "-i", str(identity), str(blob)], capture_output=True)
    assert out.returncode == 0 and out.stdout == data and vfile.size == len(data)


def test_abort_leaves_no_file_and_no_partial(vault: Vault) -> None:
    incoming = vault.begin_import("a.bin", size=10)
    incoming.write(b"12345")
    incoming.abort()
    incoming.abort()  # idempotent
    assert blob_files(vault) == [] and vault.list_files() == []
    with pytest.raises(ImportIncomplete, match="was stopped"):
        incoming.write(b"67890")


def test_a_short_file_is_refused_at_commit_and_nothing_is_kept(vault: Vault) -> None:
    incoming = vault.begin_import("short.bin", size=10)
    incoming.write(b"1234")
    with pytest.raises(ImportIncomplete, match=r"arrived incomplete \(4 of 10 bytes\)"):
        incoming.commit()
    assert blob_files(vault) == [] and vault.list_files() == []


def test_more_bytes_than_announced_are_refused(vault: Vault) -> None:
    incoming = vault.begin_import("long.bin", size=3)
    with pytest.raises(ImportIncomplete, match="more bytes than its announced size"):
        incoming.write(b"1234")
    assert blob_files(vault) == []


def test_an_exception_inside_the_with_block_keeps_nothing(vault: Vault) -> None:
    with pytest.raises(RuntimeError), vault.begin_import("x.bin") as incoming:
        incoming.write(b"data")
        raise RuntimeError("the sender went away")
    assert blob_files(vault) == [] and not incoming.open


def test_locking_the_vault_mid_import_drops_the_import(vault: Vault) -> None:
    incoming = vault.begin_import("x.bin")
    incoming.write(b"data")
    vault.lock()
    with pytest.raises(VaultLocked):
        incoming.write(b"more")
    assert blob_files(vault) == []


def test_abort_from_another_thread_wins_over_a_later_commit(vault: Vault) -> None:
    incoming = vault.begin_import("x.bin")
    incoming.write(b"data")
    watchdog = threading.Thread(target=incoming.abort)
    watchdog.start()
    watchdog.join()
    with pytest.raises(ImportIncomplete):
        incoming.commit()
    assert blob_files(vault) == [] and vault.list_files() == []


def test_a_committed_import_survives_reopening(vault: Vault) -> None:
    incoming = vault.begin_import("kept.txt")
    incoming.write(b"kept")
    vfile = incoming.commit()
    incoming.abort()  # too late: nothing happens
    vault.close()
    with open_vault(vault.path, PASSPHRASE) as again, again.open_file(vfile.id) as reader:
        assert reader.read() == b"kept"


def test_a_refused_name_opens_nothing(vault: Vault) -> None:
    with pytest.raises(ImportRefused):
        vault.begin_import("x" * 5000)
    assert blob_files(vault) == []
    vault.rekey("a new passphrase for the test")  # no import was left counted as under way
