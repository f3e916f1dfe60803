"""SealedKey and SealedReader: fresh keys, byte-identical ciphertext, seeking, the digest."""

from __future__ import annotations

import hashlib
import io
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tellakit import sealed
from tellakit.errors import AgeNoMatch
from tellakit.sealed import SealedKey, SealedReader, new_sealed_file
from tellakit.sealed.reader import BATCH_CHUNKS
from tellakit.vault import Vault, age
from tellakit.vault.age import CHUNK, ENC_CHUNK

ORG = age.X25519Identity.generate()

SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, BATCH_CHUNKS * CHUNK + 5, 40 * CHUNK]


def payload(size: int, seed: bytes = b"sealed") -> bytes:
    return hashlib.shake_256(seed + size.to_bytes(8, "big")).digest(size) if size else b""


class Source(io.RawIOBase):
    """A plaintext source that records how it is used (seekable or not)."""

    opened: list[int]

    def __init__(self, data: bytes, offset: int, *, seekable: bool, log: list[int]) -> None:
        super().__init__()
        self._data = data
        self._pos = offset
        self._seekable = seekable
        log.append(offset)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._seekable

    def seek(self, offset: int, whence: int = 0) -> int:
        assert self._seekable and whence == 0
        self._pos = offset
        return offset

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = min(len(buffer), len(self._data) - self._pos)
        buffer[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


def reader(data: bytes, key: SealedKey, *, seekable: bool = True, log: list[int] | None = None):
    opened = [] if log is None else log
    return SealedReader(
        lambda off: Source(data, off, seekable=seekable, log=opened), key, len(data)
    )


@pytest.mark.parametrize("size", SIZES)
def test_sealed_file_decrypts_to_the_plaintext_and_has_the_computed_size(size: int) -> None:
    data = payload(size)
    key = new_sealed_file([ORG.recipient()])
    out = reader(data, key).read()
    assert len(out) == key.sealed_size(size)
    assert age.decrypt_bytes(out, [ORG]) == data
    assert age.AgeReader(io.BytesIO(out), [ORG]).read() == data


@pytest.mark.parametrize("size", [0, CHUNK, 3 * CHUNK + 7])
def test_the_same_key_always_gives_byte_identical_ciphertext(size: int) -> None:
    data = payload(size)
    key = new_sealed_file([ORG.recipient()])
    first = reader(data, key).read()
    # read again in odd pieces, through a stored-and-reloaded key, from a non-seekable source
    again = reader(data, SealedKey.loads(key.dumps()), seekable=False)
    pieces = []
    while piece := again.read(12345):
        pieces.append(piece)
    assert b"".join(pieces) == first
    assert sealed.seal_bytes(data, key) == first


def test_every_new_sealed_file_has_its_own_key_header_and_nonce() -> None:
    keys = [new_sealed_file([ORG.recipient()]) for _ in range(3)]
    assert len({k.file_key for k in keys}) == 3
    assert len({k.header for k in keys}) == 3
    assert len({k.nonce for k in keys}) == 3
    data = payload(2 * CHUNK)
    outs = [reader(data, k).read() for k in keys]
    assert len(set(outs)) == 3


def _offsets(size: int, key: SealedKey) -> list[int]:
    """Every kind of offset: start, inside the header, the nonce, chunk and batch boundaries,
    inside the last chunk, the end and past it."""
    total = key.sealed_size(size)
    prefix = key.prefix_size
    chunks = sealed.chunk_count(size)
    points = {0, 1, 30, len(key.header) - 1, len(key.header), prefix - 1, prefix, total, total + 9}
    for k in (1, 2, BATCH_CHUNKS - 1, BATCH_CHUNKS, BATCH_CHUNKS + 1, chunks - 1):
        if 0 < k < chunks:
            edge = prefix + k * ENC_CHUNK
            points |= {edge - 17, edge - 16, edge - 1, edge, edge + 1}
    last = prefix + (chunks - 1) * ENC_CHUNK
    points |= {last, last + 1, (last + total) // 2, total - 16, total - 1}
    return sorted(p for p in points if p >= 0)


@pytest.mark.parametrize("size", [0, 5, CHUNK, BATCH_CHUNKS * CHUNK + 5, 40 * CHUNK - 3])
@pytest.mark.parametrize("seekable", [True, False])
def test_seeking_to_any_offset_reads_the_bytes_of_a_straight_read(
    size: int, seekable: bool
) -> None:
    data = payload(size)
    key = new_sealed_file([ORG.recipient()])
    straight = reader(data, key).read()
    r = reader(data, key, seekable=seekable)
    for offset in _offsets(size, key):
        for length in (1, 16, ENC_CHUNK + 3, BATCH_CHUNKS * ENC_CHUNK + 100):
            assert r.seek(offset) == offset
            assert r.read(length) == straight[offset : offset + length], (offset, length)
            assert r.tell() == min(offset + length, max(offset, len(straight)))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_random_seeks_and_reads_match_the_straight_read(data) -> None:
    size = data.draw(st.integers(0, 40 * CHUNK))
    plain = payload(size, b"random")
    key = new_sealed_file([ORG.recipient()])
    straight = sealed.seal_bytes(plain, key)
    r = reader(plain, key, seekable=data.draw(st.booleans()))
    for _ in range(6):
        offset = data.draw(st.integers(0, len(straight) + 10))
        length = data.draw(st.integers(0, 3 * ENC_CHUNK))
        r.seek(offset)
        assert r.read(length) == straight[offset : offset + length]
    r.seek(0)
    assert r.read() == straight  # whatever came before, the digest ends up right
    assert r.sha256_hex() == hashlib.sha256(straight).hexdigest()
    r.close()


def test_the_source_is_opened_lazily_and_reopened_only_when_it_cannot_seek() -> None:
    data = payload(4 * CHUNK)
    key = new_sealed_file([ORG.recipient()])
    log: list[int] = []
    r = reader(data, key, seekable=True, log=log)
    r.read(key.prefix_size)  # header and nonce come from the key: no plaintext needed
    assert log == []
    r.seek(key.prefix_size + 2 * ENC_CHUNK + 5)
    r.read(10)
    assert log == [2 * CHUNK]  # opened at the chunk holding the offset
    r.seek(0)
    r.read()
    assert log == [2 * CHUNK]  # a seekable source is sought, not reopened
    log2: list[int] = []
    r2 = reader(data, key, seekable=False, log=log2)
    r2.seek(key.prefix_size + 3 * ENC_CHUNK)
    r2.read(1)
    r2.seek(key.prefix_size)
    r2.read(1)
    assert log2 == [3 * CHUNK, 0]


def test_a_source_shorter_than_announced_is_an_error_not_a_short_file() -> None:
    data = payload(3 * CHUNK)
    key = new_sealed_file([ORG.recipient()])
    r = SealedReader(lambda off: Source(data[:-10], off, seekable=True, log=[]), key, len(data))
    with pytest.raises(ValueError, match="ended after"):
        r.read()


def test_the_digest_of_an_in_order_read_is_right_also_with_retried_pieces() -> None:
    data = payload(40 * CHUNK + 3)
    key = new_sealed_file([ORG.recipient()])
    straight = sealed.seal_bytes(data, key)
    r = reader(data, key)
    r.read(3 * ENC_CHUNK)
    assert r.sha256_hex() is None  # not all of it made yet
    for _ in range(3):  # chunks re-sent after retries: the same bytes again
        r.seek(2 * ENC_CHUNK)
        r.read(BATCH_CHUNKS * ENC_CHUNK + 7)
    r.read()
    assert r.sha256_hex() == hashlib.sha256(straight).hexdigest()
    r.close()
    assert (
        sealed.sealed_sha256(lambda off: Source(data, off, seekable=True, log=[]), key, len(data))
        == hashlib.sha256(straight).hexdigest()
    )
    small = payload(5)  # from a source that cannot seek
    assert (
        sealed.sealed_sha256(lambda off: Source(small, off, seekable=False, log=[]), key, 5)
        == hashlib.sha256(sealed.seal_bytes(small, key)).hexdigest()
    )


def test_the_digest_needs_every_chunk_made_in_order_from_the_first() -> None:
    data = payload(40 * CHUNK + 5)  # three batches of chunks
    key = new_sealed_file([ORG.recipient()])
    straight = sealed.seal_bytes(data, key)
    r = reader(data, key)
    r.seek(key.prefix_size + 20 * ENC_CHUNK)  # a resume in the middle
    r.read()
    assert r.sha256_hex() is None
    r.seek(0)
    r.read(2 * BATCH_CHUNKS * ENC_CHUNK)  # now the first two batches, in order
    assert r.sha256_hex() is None
    r.read()
    assert r.sha256_hex() == hashlib.sha256(straight).hexdigest()
    r.close()


def test_sealed_key_round_trips_and_refuses_damage() -> None:
    key = new_sealed_file([ORG.recipient(), age.X25519Identity.generate().recipient()])
    text = key.dumps()
    assert text.startswith("tellakit-sealed-key/v1 ")
    assert "\n" not in text
    assert SealedKey.loads(text) == key
    assert repr(key).startswith("SealedKey(header=") and key.file_key.hex() not in repr(key)
    other = new_sealed_file([ORG.recipient()])
    swapped = SealedKey(other.file_key, key.header, key.nonce).dumps()
    with pytest.raises(ValueError, match="MAC"):
        SealedKey.loads(swapped)
    with pytest.raises(ValueError, match="not a tellakit-sealed-key"):
        SealedKey.loads("age-key " + text.split(" ", 1)[1])
    with pytest.raises(ValueError, match="base64"):
        SealedKey.loads(text[:-2] + "!!")
    with pytest.raises(ValueError, match="after the MAC"):
        SealedKey(key.file_key, key.header + b"x", key.nonce).check()


def test_new_sealed_file_refuses_passphrases_and_no_recipient() -> None:
    with pytest.raises(ValueError, match="passphrase"):
        new_sealed_file([age.ScryptRecipient("secret", 10)])
    with pytest.raises(ValueError, match="at least one"):
        new_sealed_file([])


def test_never_the_vault_blobs_key(vault: Vault) -> None:
    """The sealed file of a vault file shares nothing with its blob but the plaintext."""
    data = payload(3 * CHUNK + 11)
    vfile = vault.import_bytes(data, "clip.mp4")
    key = new_sealed_file([ORG.recipient()])

    def open_at(offset: int):
        r = vault.open_file(vfile.id, check_sha256=False)
        r.seek(offset)
        return r

    out = SealedReader(open_at, key, vfile.size).read()
    blob = vault._blobs.path(vault._index.get_file(vfile.id)[1]).read_bytes()
    assert age.decrypt_bytes(out, [ORG]) == data
    with pytest.raises(AgeNoMatch):  # the vault's own identity cannot open it
        age.decrypt_bytes(out, [vault._id()])
    windows = {blob[i : i + 32] for i in range(0, len(blob) - 32)}
    assert not any(out[i : i + 32] in windows for i in range(key.prefix_size, len(out) - 32, 7))


def test_memory_use_is_bounded_by_the_batch_not_the_file() -> None:
    size = 64 * CHUNK
    key = new_sealed_file([ORG.recipient()])
    r = reader(os.urandom(size), key)
    buf = bytearray(256 * 1024)
    while r.readinto(buf):
        pass
    held = len(r._plain) + len(r._enc)
    assert held <= BATCH_CHUNKS * (CHUNK + ENC_CHUNK)
    assert held < size
