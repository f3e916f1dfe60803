"""The key hierarchy: passphrase -> identity (identity.age) -> index key (HKDF).

Changing the passphrase rewrites identity.age only; destroying identity.age makes every blob
and the index unreadable at once. While a re-key runs, ``identity.age.next`` holds the new
identity and the old one, under the new passphrase (see rekey.py).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tellakit.errors import (
    AgeError,
    AgeNoMatch,
    VaultBusy,
    VaultCorrupted,
    VaultDestroyed,
    WrongPassphrase,
)
from tellakit.vault import age
from tellakit.vault.age.header import parse as parse_header
from tellakit.vault.fsutil import (
    atomic_write,
    fsync_dir,
    is_regular,
    overwrite_and_remove,
    temp_name,
)
from tellakit.vault.layout import IDENTITY
from tellakit.vault.locks import identity_lock

INDEX_KEY_INFO = b"tellakit/v1 index.db SQLCipher key"
#: How long a passphrase change waits for another one (each holds the lock for milliseconds).
IDENTITY_LOCK_SECONDS = 30.0


def destroyed(root: Path) -> VaultDestroyed:
    """The error every call on a destroyed vault raises."""
    return VaultDestroyed(
        f"The vault at {root} was destroyed (quick delete); nothing in it can be read any more."
    )


def identity_text(identities: Sequence[age.X25519Identity]) -> bytes:
    """The identities as an age identity file (what ``age -i`` reads), the first one's
    public key noted on top."""
    created = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    lines = [f"# created: {created}", f"# public key: {identities[0].recipient()}"]
    if len(identities) > 1:
        lines.append("# re-key in progress: the first key is the new one, the second the old")
    lines += [str(i) for i in identities]
    return ("\n".join(lines) + "\n").encode("ascii")


def encrypt_identities(
    identities: Sequence[age.X25519Identity], passphrase: str, work_factor: int
) -> bytes:
    """An identity file encrypted with the passphrase (age scrypt), in memory."""
    return age.encrypt_bytes(
        identity_text(identities), [age.ScryptRecipient(passphrase, work_factor)]
    )


def decrypt_identities(data: bytes, passphrase: str) -> tuple[list[age.X25519Identity], int]:
    """The identities in an identity file and its scrypt work factor."""
    try:
        header = parse_header(io.BytesIO(data))
        work_factor = age.scrypt_work_factor(header.stanzas[0])
        text = age.decrypt_bytes(data, [age.ScryptIdentity(passphrase)])
    except AgeNoMatch:
        raise WrongPassphrase("The passphrase does not open this vault.") from None
    except AgeError as exc:
        raise VaultCorrupted(f"identity.age cannot be read: {exc}") from None
    found = [
        age.X25519Identity.parse(line)
        for line in text.decode("ascii", "replace").splitlines()
        if line.startswith("AGE-SECRET-KEY-1")
    ]
    if not found:
        raise VaultCorrupted("identity.age holds no AGE-SECRET-KEY-1 line")
    return found, work_factor


def read_identity(path: Path, passphrase: str) -> tuple[age.X25519Identity, int]:
    """Decrypt identity.age; returns the identity and the file's scrypt work factor."""
    identities, work_factor = decrypt_identities(path.read_bytes(), passphrase)
    return identities[0], work_factor


def work_factor_of(path: Path) -> int:
    """The scrypt work factor of an identity file (no passphrase needed)."""
    try:
        with open(path, "rb") as f:
            return age.scrypt_work_factor(parse_header(f).stanzas[0])
    except AgeError as exc:
        raise VaultCorrupted(f"identity.age cannot be read: {exc}") from None


def replace_identity_file(
    root: Path, name: str, data: bytes, *, expect: bytes | None = None, shred_old: bool = False
) -> None:
    """Atomically put ``data`` at ``root/name`` under the identity lock.

    Refused (nothing written) if the vault was destroyed meanwhile, or, with ``expect``, if
    identity.age no longer holds those bytes (another process changed the passphrase). With
    ``shred_old``, the file being replaced is overwritten in place first (re-key, step 4).
    """
    with identity_lock(root, IDENTITY_LOCK_SECONDS) as held:
        if not held:
            raise VaultBusy(
                "Another process is changing this vault's identity file; try again in a moment."
            )
        try:
            current = (root / IDENTITY).read_bytes()
        except FileNotFoundError:
            raise destroyed(root) from None
        if expect is not None and current != expect:
            raise VaultBusy(
                "The passphrase was changed by another process meanwhile; nothing was changed "
                "here. Open the vault again and retry."
            )
        atomic_write(root / name, data, shred_old=shred_old)


def retire(root: Path, name: str) -> None:
    """Rename ``root/name`` to a temporary identity name, then overwrite and remove it.

    After a kill at any point, either ``name`` is intact or only a temporary file is left,
    which ``shred_leftovers`` finishes: never a half-overwritten file under ``name``.
    """
    path = root / name
    if not is_regular(path):
        return
    retired = temp_name(root / IDENTITY)
    os.replace(path, retired)
    fsync_dir(root)
    overwrite_and_remove(retired)
    fsync_dir(root)


def shred_leftovers(root: Path) -> None:
    """Overwrite and remove ``identity.age.*.tmp`` left by a process killed while writing.

    Skipped while another process holds the identity lock (its temporary file is live).
    """
    with identity_lock(root, 0) as held:
        if not held:
            return
        for path in root.glob(IDENTITY + ".*.tmp"):
            if is_regular(path):
                overwrite_and_remove(path)


def index_key(identity: age.X25519Identity) -> bytes:
    """The 32-byte raw SQLCipher key of index.db, derived from the identity."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INDEX_KEY_INFO).derive(
        identity.secret
    )
