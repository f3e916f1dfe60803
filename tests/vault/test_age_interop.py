"""Interoperability with the stock ``age`` CLI (/usr/bin/age), in both directions.

Covers the vault too: a blob tellakit wrote decrypts with ``age -d -i <exported identity>``, and
a file stock ``age`` encrypted to the vault recipient is taken in and reads back.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
from pathlib import Path

import pytest

from tellakit.errors import AgeNoMatch
from tellakit.vault import Vault, age

AGE = shutil.which("age")
AGE_KEYGEN = shutil.which("age-keygen")
pytestmark = pytest.mark.skipif(
    AGE is None or AGE_KEYGEN is None,
    reason="stock age / age-keygen not installed (apt install age)",
)


def _payload(n: int) -> bytes:
    return hashlib.shake_256(b"interop" + n.to_bytes(8, "big")).digest(n) if n else b""


def _blob_path(vault: Vault, file_id: str) -> Path:
    return vault._blobs.path(vault._index.get_file(file_id)[1])


@pytest.mark.parametrize("size", [0, 1, age.CHUNK, age.CHUNK + 1, 3 * age.CHUNK - 5])
def test_stock_age_decrypts_what_tellakit_encrypts(tmp_path: Path, size: int) -> None:
    key = tmp_path / "key.txt"
    subprocess.run([AGE_KEYGEN, "-o", str(key)], check=True, capture_output=True)
    identity = age.X25519Identity.parse(
        next(line for line in key.read_text().splitlines() if line.startswith("AGE-SECRET"))
    )
    blob = tmp_path / "blob.age"
    data = _payload(size)
    blob.write_bytes(age.encrypt_bytes(data, [identity.recipient()]))
    out = subprocess.run([AGE, "-d", "-i", str(key), str(blob)], check=True, capture_output=True)
    assert out.stdout == data


@pytest.mark.parametrize("size", [0, 5, age.CHUNK, 2 * age.CHUNK + 3])
def test_tellakit_decrypts_what_stock_age_encrypts(tmp_path: Path, size: int) -> None:
    identity = age.X25519Identity.generate()
    other = age.X25519Identity.generate()
    data = _payload(size)
    out = subprocess.run(
        [AGE, "-r", str(other.recipient()), "-r", str(identity.recipient())],
        input=data,
        check=True,
        capture_output=True,
    )
    assert age.decrypt_bytes(out.stdout, [identity]) == data
    reader = age.AgeReader(io.BytesIO(out.stdout), [identity])
    assert reader.read() == data


def test_vault_blob_decrypts_with_stock_age_and_exported_identity(
    vault: Vault, tmp_path: Path
) -> None:
    data = _payload(3 * age.CHUNK + 11)
    vfile = vault.import_bytes(data, "video.mp4")
    identity = vault.export_identity(tmp_path / "identity.txt")
    assert (identity.stat().st_mode & 0o777) == 0o600
    out = subprocess.run(
        [AGE, "-d", "-i", str(identity), str(_blob_path(vault, vfile.id))],
        check=True,
        capture_output=True,
    )
    assert out.stdout == data
    assert hashlib.sha256(out.stdout).hexdigest() == vfile.sha256


def test_file_encrypted_by_stock_age_to_the_vault_recipient_imports(
    vault: Vault, tmp_path: Path
) -> None:
    data = _payload(age.CHUNK * 2 + 1)
    sent = tmp_path / "from-the-field.age"
    subprocess.run(
        [AGE, "-r", vault.recipient, "-o", str(sent)], input=data, check=True, capture_output=True
    )
    vfile = vault.import_age(sent, name="photo.jpg")
    assert (vfile.size, vfile.sha256, vfile.mime) == (
        len(data),
        hashlib.sha256(data).hexdigest(),
        "image/jpeg",
    )
    with vault.open_file(vfile.id) as reader:
        assert reader.read() == data


def test_file_for_another_recipient_is_refused_by_import_age(vault: Vault, tmp_path: Path) -> None:
    sent = tmp_path / "not-for-us.age"
    other = age.X25519Identity.generate().recipient()
    subprocess.run(
        [AGE, "-r", str(other), "-o", str(sent)], input=b"x", check=True, capture_output=True
    )
    with pytest.raises(AgeNoMatch):
        vault.import_age(sent, name="x.bin")
    assert vault.list_files() == []
    assert not any(p.is_file() for p in (vault.path / "blobs").rglob("*"))
