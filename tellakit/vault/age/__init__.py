"""A pure-Python age v1 implementation (C2SP age.md) on ``cryptography``.

Offers X25519 and scrypt recipients, a streaming encrypting writer, a streaming decryptor that
releases each chunk once it authenticates, and a seekable reader that decrypts only the 64 KiB
chunks it needs. ASCII armor and post-quantum (ML-KEM hybrid) recipients are not implemented:
tellakit writes binary files to X25519 and scrypt recipients only.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from typing import BinaryIO, Protocol

from tellakit.errors import AgeHeaderError, AgeHMACError, AgeNoMatch
from tellakit.vault.age.header import Header, Stanza, parse, serialise
from tellakit.vault.age.recipients import (
    DEFAULT_WORK_FACTOR,
    FILE_KEY_SIZE,
    MAX_WORK_FACTOR,
    ScryptIdentity,
    ScryptRecipient,
    X25519Identity,
    X25519Recipient,
    scrypt_work_factor,
)
from tellakit.vault.age.seekable import SeekableReader
from tellakit.vault.age.stream import (
    CHUNK,
    ENC_CHUNK,
    ChunkReader,
    StreamWriter,
    iter_decrypt,
    payload_key,
    read_nonce,
)

__all__ = [
    "CHUNK",
    "DEFAULT_WORK_FACTOR",
    "ENC_CHUNK",
    "MAX_WORK_FACTOR",
    "AgeReader",
    "Header",
    "Identity",
    "Recipient",
    "ScryptIdentity",
    "ScryptRecipient",
    "StreamWriter",
    "X25519Identity",
    "X25519Recipient",
    "decrypt_bytes",
    "encrypt",
    "encrypt_bytes",
    "iter_decrypt_file",
    "open_header",
    "scrypt_work_factor",
]


class Identity(Protocol):
    """Anything that can unwrap a file key from a stanza."""

    def unwrap(self, stanza: Stanza) -> bytes | None: ...


class Recipient(Protocol):
    """Anything that can wrap a file key into a stanza."""

    def wrap(self, file_key: bytes) -> Stanza: ...


def encrypt(raw: BinaryIO, recipients: Sequence[Recipient]) -> tuple[StreamWriter, Header]:
    """Write an age header for ``recipients`` to ``raw`` and return the payload writer.

    Call ``writer.close()`` to seal the last chunk (``raw`` itself is left open). The returned
    header carries the MAC, which the vault records to bind a blob to its index row.
    """
    if not recipients:
        raise ValueError("at least one recipient is needed")
    scrypt = any(isinstance(r, ScryptRecipient) for r in recipients)
    if scrypt and len(recipients) != 1:
        raise ValueError("a passphrase must be the only recipient of an age file")
    file_key = os.urandom(FILE_KEY_SIZE)
    data = serialise([r.wrap(file_key) for r in recipients], file_key)
    raw.write(data)
    header = parse(io.BytesIO(data))
    return StreamWriter(raw, file_key), header


def encrypt_bytes(plaintext: bytes, recipients: Sequence[Recipient]) -> bytes:
    """Encrypt a small byte string in memory."""
    out = io.BytesIO()
    writer, _ = encrypt(out, recipients)
    writer.write(plaintext)
    writer.close()
    return out.getvalue()


def unwrap_file_key(header: Header, identities: Sequence[Identity]) -> bytes:
    """The file key from the first stanza an identity opens (AgeNoMatch if none does)."""
    if any(s.type == "scrypt" for s in header.stanzas) and len(header.stanzas) != 1:
        raise AgeHeaderError("age header: a scrypt stanza must be the only stanza")
    for stanza in header.stanzas:
        for identity in identities:
            file_key = identity.unwrap(stanza)
            if file_key is not None:
                if len(file_key) != FILE_KEY_SIZE:
                    raise AgeHeaderError("age header: wrapped file key has the wrong size")
                return file_key
    raise AgeNoMatch("no identity or passphrase matches this age file")


def open_header(f: BinaryIO, identities: Sequence[Identity]) -> tuple[Header, bytes]:
    """Parse the header, unwrap the file key and check the MAC; ``f`` is left at the nonce.

    Returns (header, payload key) after reading the nonce.
    """
    header = parse(f)
    file_key = unwrap_file_key(header, identities)
    if not header.verify_mac(file_key):
        raise AgeHMACError("age header MAC does not verify: the header was altered")
    return header, payload_key(file_key, read_nonce(f))


def iter_decrypt_file(f: BinaryIO, identities: Sequence[Identity]) -> Iterator[bytes]:
    """Decrypt a whole age file from ``f`` as a stream of plaintext chunks."""
    _, key = open_header(f, identities)
    yield from iter_decrypt(f, key)


def decrypt_bytes(data: bytes, identities: Sequence[Identity]) -> bytes:
    """Decrypt a small age file held in memory."""
    return b"".join(iter_decrypt_file(io.BytesIO(data), identities))


#: Chunks decrypted per file read on the sequential path (up to 4 MiB of plaintext).
BATCH_CHUNKS = 64


class AgeReader(SeekableReader):
    """A seekable, read-only view of the plaintext of an age file.

    Reading decrypts only the chunks covering the requested range, one at a time (constant
    memory); ``seek`` is free. Every chunk is authenticated before its bytes are returned.
    """

    def __init__(self, f: BinaryIO, identities: Sequence[Identity]) -> None:
        super().__init__()
        self._f = f
        self.header, key = open_header(f, identities)
        self._chunks = ChunkReader(f, self.header.length + 16, key)
        self.size = self._chunks.size
        self._pos = 0
        self._cached: tuple[int, bytes] | None = None

    def _chunk(self, index: int) -> bytes:
        if self._cached is None or self._cached[0] != index:
            self._cached = (index, self._chunks.chunk(index))
        return self._cached[1]

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Fill ``buffer`` from the current position; 0 at the end."""
        if self.closed:
            raise ValueError("read from a closed age reader")
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._pos < self.size:
            index, within = divmod(self._pos, CHUNK)
            room = len(view) - done
            left = self.size - self._pos
            if within == 0 and (room >= CHUNK or left <= room):
                # Whole chunks go straight into the caller's buffer, several per file read:
                # no per-chunk bytes objects or copies on the (common) sequential path.
                count = -(-left // CHUNK) if left <= room else room // CHUNK
                count = min(count, BATCH_CHUNKS)
                n = self._chunks.decrypt_into(index, count, view[done:])
                done += n
                self._pos += n
                continue
            chunk = self._chunk(index)
            n = min(len(view) - done, len(chunk) - within)
            view[done : done + n] = memoryview(chunk)[within : within + n]
            done += n
            self._pos += n
        return done

    def close(self) -> None:
        """Close the reader and the underlying file."""
        if not self.closed:
            self._cached = None
            self._f.close()
        super().close()
