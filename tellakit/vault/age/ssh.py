"""age's ``ssh-ed25519`` recipient type, as the reference implementation (agessh) writes it.

An organization that already has an Ed25519 SSH key can hand out its public line
(``ssh-ed25519 AAAA... comment``) as the recipient, and open what it receives with the private
key file, as ``age -R key.pub`` / ``age -d -i id_ed25519`` do. The Ed25519 key is mapped to
X25519 (birational map of the public point; SHA-512 of the seed for the secret scalar), and the
shared secret is tweaked by an HKDF of the SSH public key so that it is bound to that key:

    stanza:   -> ssh-ed25519 <tag> <ephemeral share>   (tag: first 4 bytes of SHA-256 of the
                                                       SSH wire key, base64)
    shared:   X25519(tweak, X25519(ephemeral, their X25519 key)),
              tweak = HKDF-SHA256(ikm "", salt = SSH wire key, info = label)
    wrapping: HKDF-SHA256(ikm = shared, salt = share || their X25519 key, info = label)

Only unencrypted OpenSSH private keys are read here (``ssh-keygen -N ""``); a passphrase-
protected key gives ValueError with that reason.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_ssh_private_key,
)

from tellakit.errors import AgeHeaderError
from tellakit.vault.age.header import Stanza, b64decode, b64encode

SSH_ED25519_LABEL = b"age-encryption.org/v1/ssh-ed25519"
KEY_TYPE = "ssh-ed25519"
_P = 2**255 - 19
_D = (-121665 * pow(121666, -1, _P)) % _P
_ZERO_NONCE = bytes(12)
_WRAPPED_SIZE = 32


def _hkdf(ikm: bytes, salt: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=SSH_ED25519_LABEL).derive(ikm)


def _ssh_string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def wire_key(public: bytes) -> bytes:
    """The SSH wire encoding of an Ed25519 public key (what the ``AAAA...`` field holds)."""
    return _ssh_string(KEY_TYPE.encode("ascii")) + _ssh_string(public)


def ed25519_to_x25519_public(public: bytes) -> bytes:
    """The X25519 (Montgomery u) form of an Ed25519 public key; ValueError if not a point."""
    if len(public) != 32:
        raise ValueError("an Ed25519 public key has 32 bytes")
    y = int.from_bytes(public, "little") & ((1 << 255) - 1)
    y %= _P
    # The point exists when x^2 = (y^2 - 1) / (d y^2 + 1) has a root (Euler's criterion).
    yy = y * y % _P
    xx = (yy - 1) * pow(_D * yy + 1, -1, _P) % _P
    if xx and pow(xx, (_P - 1) // 2, _P) != 1:
        raise ValueError("the Ed25519 public key is not a point on the curve")
    if not xx and public[31] & 0x80:
        raise ValueError("the Ed25519 public key is not a canonical point")
    if y == 1:
        raise ValueError("the Ed25519 public key is the identity point")
    u = (1 + y) * pow(1 - y, -1, _P) % _P
    return u.to_bytes(32, "little")


def _tag(wire: bytes) -> str:
    return b64encode(hashlib.sha256(wire).digest()[:4])


def _tweaked(secret: bytes, point: bytes, tweak: bytes) -> bytes:
    """X25519(tweak, X25519(secret, point)); AgeHeaderError for a low-order point."""
    try:
        shared = X25519PrivateKey.from_private_bytes(secret).exchange(
            X25519PublicKey.from_public_bytes(point)
        )
        return X25519PrivateKey.from_private_bytes(tweak).exchange(
            X25519PublicKey.from_public_bytes(shared)
        )
    except ValueError:  # OpenSSL refuses an all-zero result (a low-order point)
        raise AgeHeaderError("age header: ssh-ed25519 share is a low-order point") from None


@dataclass(frozen=True)
class SshEd25519Recipient:
    """An ``ssh-ed25519 AAAA...`` public key line."""

    public: bytes

    @classmethod
    def parse(cls, text: str) -> SshEd25519Recipient:
        """Parse ``ssh-ed25519 <base64> [comment]``; ValueError saying what is wrong."""
        fields = text.split()
        if len(fields) < 2 or fields[0] != KEY_TYPE:
            raise ValueError("only ssh-ed25519 public keys can be recipients (not RSA or ECDSA)")
        try:
            wire = base64.b64decode(fields[1], validate=True)
        except ValueError:
            raise ValueError("the SSH public key's base64 is invalid") from None
        prefix = _ssh_string(KEY_TYPE.encode("ascii"))
        if not wire.startswith(prefix) or len(wire) != len(prefix) + 4 + 32:
            raise ValueError("the SSH public key is not a well-formed ssh-ed25519 key")
        public = wire[len(prefix) + 4 :]
        if wire != wire_key(public):
            raise ValueError("the SSH public key is not a well-formed ssh-ed25519 key")
        ed25519_to_x25519_public(public)
        return cls(public)

    def __str__(self) -> str:
        return f"{KEY_TYPE} {base64.b64encode(wire_key(self.public)).decode('ascii')}"

    def wrap(self, file_key: bytes) -> Stanza:
        """A stanza carrying ``file_key`` for this key (fresh ephemeral key each time)."""
        wire = wire_key(self.public)
        theirs = ed25519_to_x25519_public(self.public)
        ephemeral = X25519PrivateKey.generate()
        share = ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        secret = ephemeral.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        shared = _tweaked(secret, theirs, _hkdf(b"", wire))
        key = _hkdf(shared, share + theirs)
        body = ChaCha20Poly1305(key).encrypt(_ZERO_NONCE, file_key, None)
        return Stanza(KEY_TYPE, [_tag(wire), b64encode(share)], body)


@dataclass(frozen=True)
class SshEd25519Identity:
    """An unencrypted OpenSSH Ed25519 private key."""

    seed: bytes = field(repr=False)

    @classmethod
    def parse(cls, text: str | bytes) -> SshEd25519Identity:
        """Read an ``-----BEGIN OPENSSH PRIVATE KEY-----`` block; ValueError if not usable."""
        data = text.encode("ascii") if isinstance(text, str) else text
        try:
            key = load_ssh_private_key(data, password=None)
        except TypeError:
            raise ValueError("the SSH private key is protected by a passphrase") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("only ssh-ed25519 private keys can open sealed files")  # noqa: TRY004
        return cls(key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))

    def __repr__(self) -> str:
        return f"SshEd25519Identity(recipient={self.recipient()})"

    def recipient(self) -> SshEd25519Recipient:
        """The matching public key."""
        public = Ed25519PrivateKey.from_private_bytes(self.seed).public_key()
        return SshEd25519Recipient(public.public_bytes(Encoding.Raw, PublicFormat.Raw))

    def unwrap(self, stanza: Stanza) -> bytes | None:
        """The file key if ``stanza`` is an ssh-ed25519 stanza for this key."""
        if stanza.type != KEY_TYPE:
            return None
        if len(stanza.args) != 2:
            raise AgeHeaderError("age header: ssh-ed25519 stanza needs exactly two arguments")
        share = b64decode(stanza.args[1])
        if len(share) != 32:
            raise AgeHeaderError("age header: ssh-ed25519 share is not 32 bytes")
        public = self.recipient().public
        wire = wire_key(public)
        if stanza.args[0] != _tag(wire):
            return None
        if len(stanza.body) != _WRAPPED_SIZE:
            raise AgeHeaderError("age header: ssh-ed25519 body is not 32 bytes")
        secret = hashlib.sha512(self.seed).digest()[:32]
        shared = _tweaked(secret, share, _hkdf(b"", wire))
        key = _hkdf(shared, share + ed25519_to_x25519_public(public))
        try:
            return ChaCha20Poly1305(key).decrypt(_ZERO_NONCE, stanza.body, None)
        except InvalidTag:
            return None
