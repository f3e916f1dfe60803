"""Re-key: a new identity, every header re-wrapped (same payload), the index re-keyed, the old
identity overwritten; an interruption at any step is finished by opening with the new
passphrase."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlcipher3 import dbapi2 as sqlcipher

from tellakit.errors import RekeyInterrupted, VaultBusy, VaultError, WrongPassphrase
from tellakit.vault import Vault, age, fsutil, keys, open_vault, rekey
from tellakit.vault.age.header import parse
from tellakit.vault.index import Index

from .conftest import PASSPHRASE

NEW = "the passphrase after the re-key"
AGE = shutil.which("age")


class Cut(BaseException):
    """Stands for the process dying at that point."""


def _blob(vault: Vault, file_id: str) -> Path:
    return vault._blobs.path(vault._index.get_file(file_id)[1])


def _payload(path: Path) -> bytes:
    data = path.read_bytes()
    return data[parse(io.BytesIO(data)).length :]


@pytest.fixture
def filled(vault: Vault) -> Iterator[tuple[Vault, dict[str, bytes]]]:
    """A vault with an own-written file, an empty one, and one adopted from stock age with a
    second recipient (its header is longer: re-wrapped by copying, not in place)."""
    contents = {
        "video.mp4": os.urandom(3 * age.CHUNK + 17),
        "empty.txt": b"",
        "shared.pdf": b"encrypted by someone with stock age" * 50,
    }
    ids = {}
    for name in ("video.mp4", "empty.txt"):
        ids[vault.import_bytes(contents[name], name).id] = contents[name]
    other = age.X25519Identity.generate().recipient()
    shared = vault.path.parent / "shared.age"
    shared.write_bytes(
        age.encrypt_bytes(
            contents["shared.pdf"], [other, age.X25519Recipient.parse(vault.recipient)]
        )
    )
    ids[vault.import_age(shared, name="shared.pdf").id] = contents["shared.pdf"]
    yield vault, ids


def _check_rekeyed(root: Path, files: dict[str, bytes], old_identity: age.X25519Identity) -> None:
    with pytest.raises((WrongPassphrase, RekeyInterrupted)):
        open_vault(root, PASSPHRASE)
    with open_vault(root, NEW) as v:
        assert {f.id for f in v.list_files()} == set(files)
        for file_id, data in files.items():
            assert v.open_file(file_id).read() == data
            with pytest.raises(VaultError):
                age.decrypt_bytes(_blob(v, file_id).read_bytes(), [old_identity])
        assert v.orphans() == []
    assert sorted(p.name for p in root.iterdir()) == [
        "blobs",
        "identity.age",
        "index.db",
        "tellakit-vault.json",
    ]
    assert not any(p.suffix in (".rekey", ".partial") for p in (root / "blobs").rglob("*"))


def test_rekey_rewraps_headers_and_keeps_every_payload_byte(
    filled: tuple[Vault, dict[str, bytes]],
) -> None:
    vault, files = filled
    old = vault._id()
    report = vault.create_report("Kept", "through the re-key", list(files))
    before = {file_id: _payload(_blob(vault, file_id)) for file_id in files}
    headers = {file_id: _blob(vault, file_id).read_bytes()[:100] for file_id in files}
    old_recipient = vault.recipient

    assert vault.rekey(NEW) == len(files)

    assert vault.recipient != old_recipient
    for file_id, data in files.items():
        assert _payload(_blob(vault, file_id)) == before[file_id]  # not re-encrypted
        assert _blob(vault, file_id).read_bytes()[:100] != headers[file_id]
        assert vault.open_file(file_id).read() == data
    assert vault.get_report(report.id).title == "Kept"
    vault.close()
    _check_rekeyed(vault.path, files, old)


def test_the_index_is_rekeyed_and_the_old_key_opens_it_no_more(vault: Vault) -> None:
    old_key = keys.index_key(vault._id())
    vault.import_bytes(b"x", "x")
    vault.rekey(NEW)
    vault.close()
    con = sqlcipher.connect(str(vault.path / "index.db"))
    con.execute("PRAGMA cipher_log_level = NONE")
    con.execute(f"PRAGMA key = \"x'{old_key.hex()}'\"")
    with pytest.raises(sqlcipher.DatabaseError):
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
    con.close()


@pytest.mark.skipif(os.name != "posix", reason="hard links")
def test_the_old_identity_file_is_overwritten_not_only_replaced(vault: Vault) -> None:
    # A hard link shares identity.age's blocks: after the re-key they hold no old identity.
    witness = vault.path.parent / "same-inode-as-identity.age"
    os.link(vault.path / "identity.age", witness)
    old_bytes = witness.read_bytes()
    vault.rekey(NEW)
    assert witness.read_bytes() != old_bytes
    with pytest.raises(VaultError):
        keys.read_identity(witness, PASSPHRASE)


@pytest.mark.skipif(AGE is None, reason="stock age not installed")
def test_stock_age_reads_a_rekeyed_blob_with_the_new_identity(vault: Vault, tmp_path: Path) -> None:
    f = vault.import_bytes(b"readable without tellakit", "a.txt")
    vault.rekey(NEW)
    key = vault.export_identity(tmp_path / "id.txt")
    out = subprocess.run(
        [AGE, "-d", "-i", str(key), str(_blob(vault, f.id))], check=True, capture_output=True
    )
    assert out.stdout == b"readable without tellakit"


def test_rekey_needs_the_vault_alone(vault: Vault) -> None:
    f = vault.import_bytes(b"x", "x")
    other = open_vault(vault.path, PASSPHRASE)
    with pytest.raises(VaultBusy, match="open in another"):
        vault.rekey(NEW)
    assert vault.open_file(f.id).read() == b"x"  # still open and usable
    other.close()
    vault.rekey(NEW)
    vault._open_lock.exclusive()  # as while a re-key runs
    with pytest.raises(VaultBusy, match="being re-keyed"):
        open_vault(vault.path, NEW)


def test_rekey_refuses_while_blobs_has_orphans(vault: Vault) -> None:
    f = vault.import_bytes(b"forgotten", "f")
    with vault._index.transaction() as cur:
        cur.execute("DELETE FROM files WHERE id = ?", (f.id,))
    with pytest.raises(VaultError, match="tellakit recover"):
        vault.rekey(NEW)
    assert not (vault.path / "identity.age.next").exists()


def _cut(
    monkeypatch: pytest.MonkeyPatch,
    owner: Any,
    attr: str,
    *,
    after: bool = True,
    nth: int = 1,
    when: Callable[..., bool] = lambda *a, **k: True,
) -> None:
    """Make the ``nth`` matching call of ``owner.attr`` die (Cut) just before or after it."""
    real = getattr(owner, attr)
    seen = [0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        hit = when(*args, **kwargs)
        seen[0] += hit
        if hit and not after and seen[0] == nth:
            raise Cut(attr)
        result = real(*args, **kwargs)
        if hit and after and seen[0] == nth:
            raise Cut(attr)
        return result

    monkeypatch.setattr(owner, attr, wrapper)


def _tear_a_header(path: Path, header: bytes, offset: int) -> None:
    with open(path, "r+b") as f:
        f.write(header[: len(header) // 2])  # half the new header over the old one
    raise Cut("torn")


STEPS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "after .next is written": lambda mp: _cut(
        mp, keys, "replace_identity_file", when=lambda root, name, *a, **k: name.endswith("next")
    ),
    "after a header is journalled": lambda mp: _cut(mp, Index, "journal_rekey"),
    "in the middle of a header": lambda mp: mp.setattr(rekey, "_write_header", _tear_a_header),
    "after a header is written": lambda mp: _cut(mp, rekey, "_write_header"),
    "after the second header": lambda mp: _cut(mp, Index, "finish_rekey", nth=2),
    "before the index is replaced": lambda mp: _cut(
        mp, rekey.os, "replace", after=False, when=lambda s, d, *a: str(d).endswith("index.db")
    ),
    "after the index is replaced": lambda mp: _cut(mp, rekey, "swap_index"),
    "after the old identity.age is overwritten": lambda mp: _cut(mp, fsutil, "overwrite"),
    "after identity.age is replaced": lambda mp: _cut(mp, keys, "retire", after=False),
}


@pytest.mark.parametrize("step", list(STEPS))
def test_a_rekey_cut_at_any_step_is_finished_with_the_new_passphrase(
    filled: tuple[Vault, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    vault, files = filled
    old = vault._id()
    STEPS[step](monkeypatch)
    with pytest.raises(Cut):
        vault.rekey(NEW)
    monkeypatch.undo()
    assert vault.locked  # half-way: nothing more through this object
    assert (vault.path / "identity.age.next").exists()
    expected = WrongPassphrase if step == "after identity.age is replaced" else RekeyInterrupted
    with pytest.raises(expected):
        open_vault(vault.path, PASSPHRASE)
    _check_rekeyed(vault.path, files, old)
