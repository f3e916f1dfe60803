"""``SealedKey``: everything that fixes the bytes of one sealed (age) file before it is sent.

A sealed file is a standard age v1 file whose header and payload nonce are chosen once, when
the file is first prepared for upload, and kept (in the vault's encrypted index) with a fresh
16-byte file key. Given the same plaintext, the same ``SealedKey`` always yields byte-identical
ciphertext, so an upload resumed after a pause, a cut connection or ``kill -9`` sends exactly
the bytes the interrupted one would have sent, from any offset.

The key is fresh for every file, never the vault blob's own: the same ciphertext on a seized
device and on the server would link the two without anyone holding a key.

Rule: one ``SealedKey`` encrypts one plaintext, forever. Two different plaintexts under the same
file key and nonce reuse the ChaCha20 keystream and the Poly1305 keys (both plaintexts leak
and forgeries become possible). A report's attachments and description are fixed once it
leaves the draft state, so their keys can be stored; anything rebuilt (the manifest, whose
``submitted_at`` changes) gets a new key every time it is built.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from tellakit.errors import AgeHeaderError
from tellakit.vault import age
from tellakit.vault.age.header import parse as parse_header
from tellakit.vault.age.header import serialise
from tellakit.vault.age.recipients import FILE_KEY_SIZE
from tellakit.vault.age.stream import CHUNK, NONCE_SIZE, TAG, payload_key

#: The first word of ``SealedKey.dumps()``: names the format of the stored text.
KEY_FORMAT = "tellakit-sealed-key/v1"


def chunk_count(plaintext_size: int) -> int:
    """Payload chunks of an age file of ``plaintext_size`` bytes (an empty file has one)."""
    if plaintext_size < 0:
        raise ValueError("plaintext_size must be >= 0")
    return max(1, -(-plaintext_size // CHUNK))


@dataclass(frozen=True)
class SealedKey:
    """The file key, the complete age header (MAC included) and the payload nonce of one file.

    ``dumps()`` / ``loads()`` turn it into one line of text for the index; ``loads`` checks
    that the header parses strictly and that its MAC verifies under the file key.
    """

    file_key: bytes = field(repr=False)
    header: bytes
    nonce: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.file_key) != FILE_KEY_SIZE:
            raise ValueError(f"an age file key has {FILE_KEY_SIZE} bytes")
        if len(self.nonce) != NONCE_SIZE:
            raise ValueError(f"an age payload nonce has {NONCE_SIZE} bytes")

    def __repr__(self) -> str:
        return f"SealedKey(header={len(self.header)} bytes)"

    @property
    def prefix_size(self) -> int:
        """Bytes before the first payload chunk: the header and the nonce."""
        return len(self.header) + NONCE_SIZE

    def payload_key(self) -> bytes:
        """The ChaCha20-Poly1305 key of the payload (HKDF of the file key and nonce)."""
        return payload_key(self.file_key, self.nonce)

    def sealed_size(self, plaintext_size: int) -> int:
        """The size of the age file for ``plaintext_size`` bytes of plaintext."""
        return self.prefix_size + plaintext_size + TAG * chunk_count(plaintext_size)

    def dumps(self) -> str:
        """One line of text: the format word, then file key, nonce and header in base64."""
        parts = (self.file_key, self.nonce, self.header)
        return " ".join([KEY_FORMAT, *(base64.b64encode(p).decode("ascii") for p in parts)])

    @classmethod
    def loads(cls, text: str) -> SealedKey:
        """Read what ``dumps`` wrote; ValueError if it is not such a line or does not check."""
        words = text.split(" ")
        if len(words) != 4 or words[0] != KEY_FORMAT:
            raise ValueError(f"not a {KEY_FORMAT} line")
        try:
            file_key, nonce, header = (base64.b64decode(w, validate=True) for w in words[1:])
        except binascii.Error:
            raise ValueError("a sealed key line holds invalid base64") from None
        key = cls(file_key, header, nonce)
        key.check()
        return key

    def check(self) -> None:
        """Parse the header strictly and verify its MAC (ValueError if either fails)."""
        stream = io.BytesIO(self.header)
        try:
            parsed = parse_header(stream)
        except AgeHeaderError as exc:
            raise ValueError(f"the stored age header is malformed: {exc}") from None
        if stream.read(1) or parsed.length != len(self.header):
            raise ValueError("the stored age header has bytes after the MAC line")
        if not parsed.verify_mac(self.file_key):
            raise ValueError("the stored age header's MAC does not match its file key")


def new_sealed_file(recipients: Sequence[age.Recipient]) -> SealedKey:
    """A fresh file key, the header wrapping it for ``recipients``, and a fresh payload nonce.

    Only public-key recipients are accepted (a passphrase cannot be what field staff encrypt
    to): ``X25519Recipient`` and, when given, ``SshEd25519Recipient``.
    """
    if not recipients:
        raise ValueError("a sealed file needs at least one recipient")
    if any(isinstance(r, age.ScryptRecipient) for r in recipients):
        raise ValueError("a sealed file is encrypted to public keys, not to a passphrase")
    file_key = os.urandom(FILE_KEY_SIZE)
    header = serialise([r.wrap(file_key) for r in recipients], file_key)
    return SealedKey(file_key, header, os.urandom(NONCE_SIZE))
