"""age v1 recipient stanzas: X25519 and scrypt (C2SP age.md, "Recipient types").

Each identity's ``unwrap`` returns the 16-byte file key, or None when the stanza is not for it;
a stanza of its type that is malformed raises AgeHeaderError (the spec says such a file is
invalid, not merely "not for me").
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from tellakit.errors import AgeHeaderError
from tellakit.vault.age import bech32
from tellakit.vault.age.header import Stanza, b64decode, b64encode

FILE_KEY_SIZE = 16
WRAPPED_SIZE = FILE_KEY_SIZE + 16
X25519_LABEL = b"age-encryption.org/v1/X25519"
SCRYPT_LABEL = b"age-encryption.org/v1/scrypt"
MAX_WORK_FACTOR = 22  # what the reference implementation accepts by default (~4 GiB of memory)
DEFAULT_WORK_FACTOR = 18  # age's own default for passphrases
_ZERO_NONCE = bytes(12)
_DECIMAL = re.compile(r"[1-9][0-9]*")


def _wrap(key: bytes, file_key: bytes) -> bytes:
    return ChaCha20Poly1305(key).encrypt(_ZERO_NONCE, file_key, None)


def _unwrap(key: bytes, body: bytes) -> bytes | None:
    try:
        return ChaCha20Poly1305(key).decrypt(_ZERO_NONCE, body, None)
    except InvalidTag:
        return None


def _hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


@dataclass(frozen=True)
class X25519Recipient:
    """An ``age1...`` public key."""

    public: bytes

    @classmethod
    def parse(cls, text: str) -> X25519Recipient:
        """Parse an ``age1...`` string; ValueError if it is not one."""
        hrp, data = bech32.decode(text)
        if hrp != "age" or len(data) != 32 or text != text.lower():
            raise ValueError("not an age X25519 recipient")
        return cls(data)

    def __str__(self) -> str:
        return bech32.encode("age", self.public)

    def wrap(self, file_key: bytes) -> Stanza:
        """A stanza carrying ``file_key`` for this recipient (fresh ephemeral key each time)."""
        ephemeral = X25519PrivateKey.generate()
        share = ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(self.public))
        key = _hkdf(shared, share + self.public, X25519_LABEL)
        return Stanza("X25519", [b64encode(share)], _wrap(key, file_key))


@dataclass(frozen=True)
class X25519Identity:
    """An ``AGE-SECRET-KEY-1...`` private key."""

    secret: bytes = field(repr=False)

    @classmethod
    def generate(cls) -> X25519Identity:
        """A new random identity."""
        key = X25519PrivateKey.generate()
        return cls(key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))

    @classmethod
    def parse(cls, text: str) -> X25519Identity:
        """Parse an ``AGE-SECRET-KEY-1...`` string; ValueError if it is not one."""
        hrp, data = bech32.decode(text.strip())
        if hrp != "age-secret-key-" or len(data) != 32 or text.strip() != text.strip().upper():
            raise ValueError("not an age X25519 identity")
        return cls(data)

    def __str__(self) -> str:
        return bech32.encode("age-secret-key-", self.secret).upper()

    def __repr__(self) -> str:
        return f"X25519Identity(recipient={self.recipient()})"

    def recipient(self) -> X25519Recipient:
        """The matching public key."""
        public = X25519PrivateKey.from_private_bytes(self.secret).public_key()
        return X25519Recipient(public.public_bytes(Encoding.Raw, PublicFormat.Raw))

    def unwrap(self, stanza: Stanza) -> bytes | None:
        """The file key if ``stanza`` is an X25519 stanza for this identity."""
        if stanza.type != "X25519":
            return None
        if len(stanza.args) != 1:
            raise AgeHeaderError("age header: X25519 stanza needs exactly one argument")
        share = b64decode(stanza.args[0])
        if len(share) != 32:
            raise AgeHeaderError("age header: X25519 share is not 32 bytes")
        if len(stanza.body) != WRAPPED_SIZE:
            raise AgeHeaderError("age header: X25519 body is not 32 bytes")
        private = X25519PrivateKey.from_private_bytes(self.secret)
        try:
            shared = private.exchange(X25519PublicKey.from_public_bytes(share))
        except ValueError:  # OpenSSL refuses low-order points (all-zero shared secret)
            raise AgeHeaderError("age header: X25519 share is a low-order point") from None
        if shared == bytes(32):
            raise AgeHeaderError("age header: X25519 share is a low-order point")
        key = _hkdf(shared, share + self.recipient().public, X25519_LABEL)
        return _unwrap(key, stanza.body)


@dataclass(frozen=True)
class ScryptRecipient:
    """Encrypt to a passphrase (the only stanza of its file)."""

    passphrase: str = field(repr=False)
    work_factor: int = DEFAULT_WORK_FACTOR

    def wrap(self, file_key: bytes) -> Stanza:
        """A scrypt stanza carrying ``file_key`` under the passphrase."""
        if not 1 <= self.work_factor <= MAX_WORK_FACTOR:
            raise ValueError(f"scrypt work factor must be 1..{MAX_WORK_FACTOR}")
        salt = os.urandom(16)
        key = _scrypt(self.passphrase, salt, self.work_factor)
        return Stanza("scrypt", [b64encode(salt), str(self.work_factor)], _wrap(key, file_key))


def _scrypt(passphrase: str, salt: bytes, work_factor: int) -> bytes:
    kdf = Scrypt(salt=SCRYPT_LABEL + salt, length=32, n=1 << work_factor, r=8, p=1)
    return kdf.derive(passphrase.encode("utf-8"))


def scrypt_work_factor(stanza: Stanza) -> int:
    """The checked work factor of a scrypt stanza (AgeHeaderError if malformed)."""
    if len(stanza.args) != 2:
        raise AgeHeaderError("age header: scrypt stanza needs exactly two arguments")
    salt = b64decode(stanza.args[0])
    if len(salt) != 16:
        raise AgeHeaderError("age header: scrypt salt is not 16 bytes")
    if not _DECIMAL.fullmatch(stanza.args[1]):
        raise AgeHeaderError("age header: scrypt work factor is not a canonical decimal")
    if len(stanza.args[1]) > len(str(MAX_WORK_FACTOR)):  # before int(): no huge conversions
        raise AgeHeaderError(f"age header: scrypt work factor above {MAX_WORK_FACTOR}")
    work_factor = int(stanza.args[1])
    if work_factor > MAX_WORK_FACTOR:
        raise AgeHeaderError(f"age header: scrypt work factor above {MAX_WORK_FACTOR}")
    if len(stanza.body) != WRAPPED_SIZE:
        raise AgeHeaderError("age header: scrypt body is not 32 bytes")
    return work_factor


@dataclass(frozen=True)
class ScryptIdentity:
    """Decrypt with a passphrase."""

    passphrase: str = field(repr=False)
    max_work_factor: int = MAX_WORK_FACTOR

    def unwrap(self, stanza: Stanza) -> bytes | None:
        """The file key if ``stanza`` is a scrypt stanza this passphrase opens."""
        if stanza.type != "scrypt":
            return None
        work_factor = scrypt_work_factor(stanza)
        if work_factor > self.max_work_factor:
            raise AgeHeaderError("age header: scrypt work factor above the allowed maximum")
        key = _scrypt(self.passphrase, b64decode(stanza.args[0]), work_factor)
        return _unwrap(key, stanza.body)
