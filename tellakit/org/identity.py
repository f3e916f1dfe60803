"""The organization's key: make one (``keygen``) and read it back (``load_identities``).

The identity file is what stock ``age`` reads with ``-i``: the ``AGE-SECRET-KEY-1...`` line
with ``# created`` and ``# public key`` comments, by default itself encrypted with a passphrase
(age scrypt, work factor 2^18), which age 1.1 and later also open (it asks for the passphrase).
Field staff get only the recipient (``age1...``), which ``keygen`` returns and prints.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tellakit.errors import AgeError, AgeNoMatch, IdentityFileError
from tellakit.vault import age
from tellakit.vault.age.header import VERSION_LINE
from tellakit.vault.age.ssh import SshEd25519Identity
from tellakit.vault.keys import identity_text

Passphrase = str | Callable[[], str] | None


def keygen(
    out: str | os.PathLike[str],
    passphrase: str | None,
    *,
    work_factor: int = age.DEFAULT_WORK_FACTOR,
) -> age.X25519Recipient:
    """Write a new identity to ``out`` (refused if it exists; mode 0600) and return its recipient.

    With ``passphrase=None`` the identity is written in clear: anyone who reads the file can
    open every report sent to it, so keep such a file offline.
    """
    identity = age.X25519Identity.generate()
    data = identity_text([identity])
    if passphrase is not None:
        if not passphrase:
            raise ValueError("an empty passphrase protects nothing; use passphrase=None")
        data = age.encrypt_bytes(data, [age.ScryptRecipient(passphrase, work_factor)])
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return identity.recipient()


def is_encrypted(path: str | os.PathLike[str]) -> bool:
    """True when the identity file is passphrase-protected (an age file itself)."""
    with open(path, "rb") as f:
        return f.read(len(VERSION_LINE) + 1) == VERSION_LINE + b"\n"


def load_identities(
    path: str | os.PathLike[str], passphrase: Passphrase = None
) -> list[age.Identity]:
    """The identities in ``path``: age identity lines, or an unencrypted OpenSSH ed25519 key.

    ``passphrase`` (a string, or a function asked only when the file is encrypted) opens a
    passphrase-protected file. IdentityFileError says what is wrong with the file.
    """
    source = Path(path)
    data = source.read_bytes()
    if data.startswith(VERSION_LINE + b"\n"):
        secret = passphrase() if callable(passphrase) else passphrase
        if not secret:
            raise IdentityFileError(
                f"{source} is protected by a passphrase; give the passphrase to open it."
            )
        try:
            data = age.decrypt_bytes(data, [age.ScryptIdentity(secret)])
        except AgeNoMatch:
            raise IdentityFileError(f"The passphrase does not open {source}.") from None
        except AgeError as exc:
            raise IdentityFileError(f"{source} is damaged: {exc}") from None
    if b"-----BEGIN OPENSSH PRIVATE KEY-----" in data:
        try:
            return [SshEd25519Identity.parse(data)]
        except ValueError as exc:
            raise IdentityFileError(f"{source} is an SSH key tellakit cannot use: {exc}.") from None
    identities: list[age.Identity] = []
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            identities.append(age.X25519Identity.parse(line))
        except ValueError:
            raise IdentityFileError(
                f"{source} line {number} is not an age identity (AGE-SECRET-KEY-1...)."
            ) from None
    if not identities:
        raise IdentityFileError(f"{source} holds no identity (AGE-SECRET-KEY-1...).")
    return identities
