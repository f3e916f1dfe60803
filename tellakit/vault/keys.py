"""The key hierarchy: passphrase -> identity (identity.age) -> index key (HKDF).

Changing the passphrase rewrites identity.age only; destroying identity.age makes every blob
and the index unreadable at once.
"""

from __future__ import annotations

import io
import os
from datetime import datetime, timezone
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tellakit.errors import AgeError, AgeNoMatch, VaultCorrupted, WrongPassphrase
from tellakit.vault import age
from tellakit.vault.age.header import parse as parse_header
from tellakit.vault.fsutil import atomic_write

INDEX_KEY_INFO = b"tellakit/v1 index.db SQLCipher key"


def identity_text(identity: age.X25519Identity) -> bytes:
    """The identity as an age identity file (what ``age -i`` reads)."""
    created = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    return (f"# created: {created}\n# public key: {identity.recipient()}\n{identity}\n").encode(
        "ascii"
    )


def write_identity(
    path: Path, identity: age.X25519Identity, passphrase: str, work_factor: int
) -> None:
    """Encrypt the identity with the passphrase (age scrypt) and replace ``path`` atomically."""
    data = age.encrypt_bytes(
        identity_text(identity), [age.ScryptRecipient(passphrase, work_factor)]
    )
    atomic_write(path, data)


def read_identity(path: Path, passphrase: str) -> tuple[age.X25519Identity, int]:
    """Decrypt identity.age; returns the identity and the file's scrypt work factor."""
    data = path.read_bytes()
    try:
        header = parse_header(io.BytesIO(data))
        work_factor = age.scrypt_work_factor(header.stanzas[0])
        text = age.decrypt_bytes(data, [age.ScryptIdentity(passphrase)])
    except AgeNoMatch:
        raise WrongPassphrase("The passphrase does not open this vault.") from None
    except AgeError as exc:
        raise VaultCorrupted(f"identity.age cannot be read: {exc}") from None
    for line in text.decode("ascii", "replace").splitlines():
        if line.startswith("AGE-SECRET-KEY-1"):
            return age.X25519Identity.parse(line), work_factor
    raise VaultCorrupted("identity.age holds no AGE-SECRET-KEY-1 line")


def index_key(identity: age.X25519Identity) -> bytes:
    """The 32-byte raw SQLCipher key of index.db, derived from the identity."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INDEX_KEY_INFO).derive(
        identity.secret
    )


def overwrite_and_remove(path: Path) -> None:
    """Overwrite a file with random bytes, flush it to disk, then remove it (best effort:
    flash storage may keep old copies, but the file's content is gone from the filesystem)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    with open(path, "r+b") as f:
        f.write(os.urandom(max(size, 1)))
        f.flush()
        os.fsync(f.fileno())
    path.unlink()
