"""``SealedReader``: the ciphertext of a sealed file, produced on demand from any offset.

An age v1 file is its header, a 16-byte nonce, then the plaintext in 64 KiB chunks, each sealed
with ChaCha20-Poly1305 under a nonce made of the chunk number and a last-chunk flag. Chunk ``i``
of the ciphertext therefore depends only on the payload key and plaintext chunk ``i``: the
reader maps a ciphertext offset to its chunk, reads that plaintext chunk from the (decrypting,
seekable) vault reader, encrypts it and returns the slice asked for. Constant memory (two
buffers of ``batch_chunks`` chunks), nothing written anywhere.

Sequential reads, the upload's hot path, take ``batch_chunks`` chunks (1 MiB) from the source
per call and encrypt them straight into a reused buffer. The SHA-256 of the ciphertext is fed
each batch as it is made, in file order, so an upload from offset 0 knows the digest to compare
with the server's ``X-Hash`` at no extra pass (``sha256_hex()``). An upload resumed in the
middle does not; ``sealed_sha256`` computes it with one pass.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from tellakit.sealed.key import SealedKey, chunk_count
from tellakit.vault.age.seekable import SeekableReader
from tellakit.vault.age.stream import CHUNK, ENC_CHUNK, TAG

#: Chunks encrypted per source read on the sequential path (1 MiB of plaintext).
BATCH_CHUNKS = 16


class _Digest:
    """The ciphertext's SHA-256, fed whole batches in file order as they are made.

    ``feed`` takes a batch of payload chunks ``first`` .. and hashes the part the digest does
    not have yet (the ciphertext depends only on key and plaintext, so a batch made again
    after a seek is the same bytes). Batches that would leave a gap are ignored.
    (Hashing on a helper thread, with two buffers, was tried and measured: on two shared
    cores the GIL hand-overs cost more than the overlap gained; see benchmarks/sealed.md.)
    """

    def __init__(self, prefix: bytes) -> None:
        self._hash = hashlib.sha256(prefix)
        self.next_chunk = 0  # the payload chunk the digest needs next

    def feed(self, batch: memoryview, first: int, count: int) -> None:
        if first <= self.next_chunk < first + count:
            self._hash.update(batch[(self.next_chunk - first) * ENC_CHUNK :])
            self.next_chunk = first + count

    def hexdigest(self, chunks: int) -> str | None:
        return str(self._hash.hexdigest()) if self.next_chunk == chunks else None


class PlainSource(Protocol):
    """What the reader needs of a plaintext source (a vault ``BlobReader``, ``io.BytesIO``)."""

    def read(self, n: int = -1, /) -> bytes: ...  # pragma: no cover - protocol

    def close(self) -> None: ...  # pragma: no cover - protocol


#: ``open_plain(offset)`` returns a source positioned at plaintext byte ``offset``.
OpenPlain = Callable[[int], PlainSource]


def chunk_nonce(index: int, last: bool) -> bytes:
    """The STREAM nonce of chunk ``index``: 11 bytes big-endian, then 1 for the last chunk."""
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def _fill(source: Any, target: memoryview) -> int:
    """Read into ``target`` until it is full or the source ends; the byte count."""
    readinto = getattr(source, "readinto", None)
    filled = 0
    while filled < len(target):
        if readinto is not None:
            n = readinto(target[filled:])
        else:
            data = source.read(len(target) - filled)
            n = len(data)
            target[filled : filled + n] = data
        if not n:
            break
        filled += n
    return filled


class SealedReader(SeekableReader):
    """A seekable, read-only view of the age file that ``sealed_key`` makes of a plaintext.

    ``size`` is the ciphertext size; ``read``, ``readinto``, ``seek`` and ``tell`` work on
    ciphertext offsets. ``open_plain(offset)`` is called lazily with the plaintext offset of the
    first chunk needed and must return a source positioned there (its ``seek``, if it has one,
    takes plaintext offsets too); it is called again only when a seek moves away from a source
    that cannot seek. A
    source that ends before ``plaintext_size`` raises ValueError (the body would not match
    its announced length).
    """

    def __init__(
        self,
        open_plain: OpenPlain,
        sealed_key: SealedKey,
        plaintext_size: int,
        *,
        batch_chunks: int = BATCH_CHUNKS,
        digest: bool = True,
    ) -> None:
        super().__init__()
        if batch_chunks < 1:
            raise ValueError("batch_chunks must be >= 1")
        self._open_plain = open_plain
        self._prefix = sealed_key.header + sealed_key.nonce
        self._aead = ChaCha20Poly1305(sealed_key.payload_key())
        self.plaintext_size = plaintext_size
        self.chunks = chunk_count(plaintext_size)
        self.size = sealed_key.sealed_size(plaintext_size)
        self._batch = batch_chunks
        self._pos = 0
        self._source: Any = None
        self._source_at = 0  # plaintext offset the open source is at
        self._plain = bytearray(batch_chunks * CHUNK)
        self._enc = bytearray(batch_chunks * ENC_CHUNK)
        self._enc_first = 0  # chunk number of the first chunk in _enc
        self._enc_count = 0  # chunks held in _enc
        self._enc_len = 0  # ciphertext bytes held in _enc
        # digest=False: the caller hashes the bytes itself (a chunked upload's InOrderDigest)
        self._digest = _Digest(self._prefix) if digest else None

    def sha256_hex(self) -> str | None:
        """Hex SHA-256 of the whole sealed file, once every chunk was made in order from the
        first (a read from the start to the end does that); else None (always, without
        ``digest``)."""
        return self._digest.hexdigest(self.chunks) if self._digest is not None else None

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Fill ``buffer`` from the current position; 0 at the end."""
        if self.closed:
            raise ValueError("read from a closed SealedReader")
        view = memoryview(buffer).cast("B")
        done = 0
        prefix = len(self._prefix)
        while done < len(view) and self._pos < self.size:
            if self._pos < prefix:
                n = min(len(view) - done, prefix - self._pos)
                view[done : done + n] = self._prefix[self._pos : self._pos + n]
            else:
                index, within = divmod(self._pos - prefix, ENC_CHUNK)
                if not self._enc_first <= index < self._enc_first + self._enc_count:
                    self._encrypt_batch(index)
                at = (index - self._enc_first) * ENC_CHUNK + within
                n = min(len(view) - done, self._enc_len - at)
                view[done : done + n] = memoryview(self._enc)[at : at + n]
            done += n
            self._pos += n
        return done

    def _position_source(self, offset: int) -> Any:
        source = self._source
        if source is not None and self._source_at == offset:
            return source
        if source is not None and getattr(source, "seekable", lambda: False)():
            source.seek(offset)
        else:
            if source is not None:
                source.close()
            self._source = None
            source = self._open_plain(offset)
            self._source = source
        self._source_at = offset
        return source

    def _encrypt_batch(self, index: int) -> None:
        """Encrypt chunks ``index`` .. into ``_enc`` (as many as fit, up to the last chunk)."""
        count = min(self._batch, self.chunks - index)
        offset = index * CHUNK
        want = min(count * CHUNK, self.plaintext_size - offset)
        source = self._position_source(offset)
        plain = memoryview(self._plain)
        got = _fill(source, plain[:want])
        self._source_at += got
        if got != want:
            raise ValueError(
                f"the plaintext source ended after {offset + got} of {self.plaintext_size} bytes"
            )
        enc = memoryview(self._enc)
        length = 0
        last = self.chunks - 1
        for k in range(count):
            piece = plain[k * CHUNK : min(want, (k + 1) * CHUNK)]
            out = enc[length : length + len(piece) + TAG]
            self._aead.encrypt_into(chunk_nonce(index + k, index + k == last), piece, None, out)
            length += len(piece) + TAG
        self._enc_first, self._enc_count, self._enc_len = index, count, length
        if self._digest is not None:
            self._digest.feed(enc[:length], index, count)

    def readall(self) -> bytes:
        """Read to the end in 1 MiB steps."""
        parts: list[bytes] = []
        while True:
            data = self.read(BATCH_CHUNKS * CHUNK)
            if not data:
                return b"".join(parts)
            parts.append(data)

    def close(self) -> None:
        """Close the plaintext source (the reader holds nothing else)."""
        if not self.closed and self._source is not None:
            self._source.close()
            self._source = None
        super().close()


def sealed_sha256(open_plain: OpenPlain, sealed_key: SealedKey, plaintext_size: int) -> str:
    """Hex SHA-256 of the whole sealed file, in one pass (what a resumed upload compares)."""
    with SealedReader(open_plain, sealed_key, plaintext_size) as reader:
        for index in range(0, reader.chunks, reader._batch):
            reader._encrypt_batch(index)
        digest = reader.sha256_hex()
    assert digest is not None
    return digest


def memory_reader(plaintext: bytes, sealed_key: SealedKey) -> SealedReader:
    """A ``SealedReader`` over a small plaintext held in memory (description, manifest)."""
    return SealedReader(partial(_memory_source, plaintext), sealed_key, len(plaintext))


def seal_bytes(plaintext: bytes, sealed_key: SealedKey) -> bytes:
    """The sealed file of a small plaintext held in memory."""
    with memory_reader(plaintext, sealed_key) as reader:
        return reader.readall()


def _memory_source(data: bytes, offset: int) -> io.BytesIO:
    source = io.BytesIO(data)
    source.seek(offset)
    return source
