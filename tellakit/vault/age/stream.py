"""The age v1 payload: ChaCha20-Poly1305 STREAM in 64 KiB chunks (C2SP age.md, "Payload").

Chunk ``i`` is sealed with the nonce ``i`` as 11 big-endian bytes followed by a flag byte, 1 for
the last chunk and 0 otherwise. Only an empty payload may end with an empty chunk.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tellakit.errors import AgeHeaderError, AgePayloadError

CHUNK = 64 * 1024
TAG = 16
ENC_CHUNK = CHUNK + TAG
NONCE_SIZE = 16


def payload_key(file_key: bytes, nonce: bytes) -> bytes:
    """HKDF(file key, salt = payload nonce, info "payload")."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=nonce, info=b"payload").derive(file_key)


def _nonce(index: int, last: bool) -> bytes:
    if index >= 1 << 88:
        raise AgePayloadError("age payload: too many chunks")
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def read_nonce(f: BinaryIO) -> bytes:
    """Read the 16-byte payload nonce (a short one is a header error, as in the spec vectors)."""
    nonce = f.read(NONCE_SIZE)
    if len(nonce) != NONCE_SIZE:
        raise AgeHeaderError("age file: payload nonce missing or short")
    return nonce


#: Sealed chunks collected before one write to the raw file (1 MiB of plaintext).
WRITE_BATCH = 16


class BufferSink(Protocol):
    """A ``raw`` that lends write buffers (``vault.offload.BackgroundWriter`` does): the writer
    encrypts into ``slot()`` buffers and hands each over with ``submit`` instead of ``write``,
    which saves a copy of every byte."""

    def slot(self) -> bytearray: ...

    def submit(self, buf: bytearray, n: int) -> None: ...


class StreamWriter:
    """Encrypts what is written into chunks on ``raw``; ``close`` seals the last chunk.

    Sealed chunks are encrypted straight into a buffer and reach ``raw`` in writes of up to
    ``WRITE_BATCH`` chunks (and at ``close``); when ``raw`` is a ``BufferSink``, into its
    buffers, handed over without a copy.
    """

    def __init__(self, raw: BinaryIO, file_key: bytes) -> None:
        nonce = os.urandom(NONCE_SIZE)
        raw.write(nonce)
        self._raw = raw
        self._aead = ChaCha20Poly1305(payload_key(file_key, nonce))
        self._buf = bytearray()
        lends = hasattr(raw, "slot") and hasattr(raw, "submit")
        self._sink: BufferSink | None = raw if lends else None  # type: ignore[assignment]
        self._out = self._sink.slot() if self._sink else bytearray(WRITE_BATCH * ENC_CHUNK)
        self._out_len = 0
        self._index = 0
        self._closed = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Encrypt ``data``; full chunks are sealed once more data is known to follow."""
        if self._closed:
            raise ValueError("write to a closed age writer")
        view = memoryview(data).cast("B")
        size = len(view)
        # Keep up to one full chunk back: only close() knows which chunk is the last.
        if self._buf:
            take = min(CHUNK - len(self._buf), len(view))
            self._buf += view[:take]
            view = view[take:]
            if not view:
                return size
            self._seal(self._buf, last=False)
            self._buf.clear()
        while len(view) > CHUNK:
            self._seal(view[:CHUNK], last=False)
            view = view[CHUNK:]
        self._buf += view
        return size

    def _seal(self, chunk: bytes | bytearray | memoryview, *, last: bool) -> None:
        end = self._out_len + len(chunk) + TAG
        if end > len(self._out):
            self._flush()
            end = len(chunk) + TAG
        out = memoryview(self._out)[self._out_len : end]
        self._aead.encrypt_into(_nonce(self._index, last), chunk, None, out)
        self._out_len = end
        self._index += 1

    def _flush(self, *, last: bool = False) -> None:
        if not self._out_len:
            return
        if self._sink is not None:
            self._sink.submit(self._out, self._out_len)
            if not last:
                self._out = self._sink.slot()
        else:
            self._raw.write(memoryview(self._out)[: self._out_len])
        self._out_len = 0

    def close(self) -> None:
        """Seal the last chunk (empty only when nothing at all was written)."""
        if not self._closed:
            self._seal(self._buf, last=True)
            self._flush(last=True)
            self._buf.clear()
            self._closed = True


def _read_full(f: BinaryIO, n: int) -> bytes:
    parts = []
    while n:
        data = f.read(n)
        if not data:
            break
        parts.append(data)
        n -= len(data)
    return b"".join(parts)


def _readinto_full(f: BinaryIO, target: memoryview) -> int:
    filled = 0
    while filled < len(target):
        n = f.readinto(target[filled:])  # type: ignore[attr-defined]
        if not n:
            break
        filled += n
    return filled


def iter_decrypt(f: BinaryIO, key: bytes) -> Iterator[bytes]:
    """Yield the plaintext chunk by chunk from ``f`` (after the nonce); constant memory.

    Each chunk is released once it authenticates; AgePayloadError comes at the first bad
    chunk, at a missing final chunk, or at data after the final chunk.
    """
    aead = ChaCha20Poly1305(key)
    index = 0
    while True:
        enc = _read_full(f, ENC_CHUNK)
        if len(enc) < ENC_CHUNK:
            # A short read means end of file: this must be the last chunk.
            if len(enc) < TAG:
                raise AgePayloadError("age payload: truncated (no final chunk)")
            plain = _open(aead, index, enc, last=True)
            if not plain and index:
                raise AgePayloadError("age payload: empty final chunk after data")
            yield plain
            return
        try:
            plain = aead.decrypt(_nonce(index, False), enc, None)
        except InvalidTag:
            plain = _open(aead, index, enc, last=True)
            yield plain
            if f.read(1):
                raise AgePayloadError("age payload: data after the final chunk") from None
            return
        yield plain
        index += 1


def _open(aead: ChaCha20Poly1305, index: int, enc: bytes, *, last: bool) -> bytes:
    try:
        return aead.decrypt(_nonce(index, last), enc, None)
    except InvalidTag:
        raise AgePayloadError(f"age payload: chunk {index} failed authentication") from None


class ChunkReader:
    """Random access to the chunks of a seekable age payload.

    The plaintext size follows from the file size; opening checks that the last chunk
    authenticates as last, so truncation and appended data are caught before any read.
    """

    def __init__(self, f: BinaryIO, start: int, key: bytes) -> None:
        self._f = f
        self._start = start
        self._aead = ChaCha20Poly1305(key)
        self._enc = bytearray()  # reused ciphertext buffer of decrypt_into
        end = f.seek(0, os.SEEK_END)
        payload = end - start
        if payload < TAG:
            raise AgePayloadError("age payload: truncated (no final chunk)")
        self.chunks = -(-payload // ENC_CHUNK)
        last_len = payload - (self.chunks - 1) * ENC_CHUNK
        if last_len < TAG:
            raise AgePayloadError("age payload: truncated final chunk")
        self.size = payload - self.chunks * TAG
        last = self.chunk(self.chunks - 1)
        if not last and self.chunks > 1:
            raise AgePayloadError("age payload: empty final chunk after data")

    def decrypt_into(self, index: int, count: int, out: memoryview) -> int:
        """Decrypt chunks ``index`` .. ``index + count - 1`` straight into ``out``.

        One file read for all of them and no intermediate plaintext copies (``out`` must hold
        ``count`` full chunks, or the tail when the range ends with the last chunk). Returns the
        plaintext byte count. On a chunk that fails authentication the bytes of that call are
        wiped from ``out`` and AgePayloadError is raised.
        """
        if count <= 0 or index < 0 or index + count > self.chunks:
            raise IndexError(index)
        want = count * ENC_CHUNK
        if len(self._enc) < want:
            self._enc = bytearray(want)
        enc = memoryview(self._enc)
        self._f.seek(self._start + index * ENC_CHUNK)
        got = _readinto_full(self._f, enc[:want])
        done = 0
        last_index = self.chunks - 1
        for i in range(count):
            piece = enc[i * ENC_CHUNK : min(got, (i + 1) * ENC_CHUNK)]
            n = len(piece) - TAG
            if n < 0:
                raise AgePayloadError(f"age payload: chunk {index + i} is truncated")
            try:
                self._aead.decrypt_into(
                    _nonce(index + i, index + i == last_index), piece, None, out[done : done + n]
                )
            except InvalidTag:
                out[: done + n] = bytes(done + n)
                raise AgePayloadError(
                    f"age payload: chunk {index + i} failed authentication"
                ) from None
            done += n
        return done

    def chunk(self, index: int) -> bytes:
        """Decrypt and return chunk ``index`` (AgePayloadError if it does not authenticate)."""
        if not 0 <= index < self.chunks:
            raise IndexError(index)
        self._f.seek(self._start + index * ENC_CHUNK)
        enc = _read_full(self._f, ENC_CHUNK)
        return _open(self._aead, index, enc, last=index == self.chunks - 1)
