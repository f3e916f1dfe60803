"""Blobs: seeking, tampering, truncation, appending, swapping and replacing are all caught."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tellakit.errors import VaultCorrupted
from tellakit.vault import Vault, age, create_vault
from tellakit.vault.blobs import BlobReader

from .conftest import FAST_WORK_FACTOR, PASSPHRASE

CHUNK = age.CHUNK
ENC = age.ENC_CHUNK
SIZE = 3 * CHUNK + 1000  # three full chunks and a short last one


def _data(n: int, seed: bytes = b"blob") -> bytes:
    return hashlib.shake_256(seed + n.to_bytes(8, "big")).digest(n)


def _blob_path(vault: Vault, file_id: str) -> Path:
    return vault._blobs.path(vault._index.get_file(file_id)[1])


def _read_all(reader: BlobReader) -> bytes:
    out = bytearray()
    while True:
        data = reader.read(20000)
        if not data:
            return bytes(out)
        out += data


def _payload_start(path: Path) -> int:
    data = path.read_bytes()
    return data.index(b"\n---") + len(b"\n--- ") + 43 + 1 + 16


@pytest.fixture
def stored(vault: Vault) -> tuple[Vault, str, bytes]:
    data = _data(SIZE)
    return vault, vault.import_bytes(data, "evidence.mp4").id, data


@pytest.mark.parametrize(
    "offset",
    [0, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK - 3, 2 * CHUNK, 3 * CHUNK, SIZE - 1, SIZE, SIZE + 5],
)
def test_seek_anywhere_reads_the_right_bytes(stored: tuple[Vault, str, bytes], offset: int) -> None:
    vault, file_id, data = stored
    with vault.open_file(file_id) as reader:
        assert reader.size == SIZE
        assert reader.seek(offset) == offset
        got = reader.read(CHUNK + 10)
        assert got == data[offset : offset + CHUNK + 10]
        assert reader.tell() == offset + len(got)


def test_readinto_and_full_sequential_read_verify(stored: tuple[Vault, str, bytes]) -> None:
    vault, file_id, data = stored
    with vault.open_file(file_id) as reader:
        buf = bytearray(1000)
        assert reader.readinto(buf) == 1000 and bytes(buf) == data[:1000]
        assert reader.read() == data[1000:]
        assert reader.read() == b""


def _tamper_positions(path: Path) -> list[int]:
    size = path.stat().st_size
    start = _payload_start(path)
    header = path.read_bytes()[: start - 16]
    positions = set(range(0, len(header), 7))  # version line, stanza, body, MAC line
    positions |= {len(header) - 2, len(header) - 1}  # the MAC's last character and newline
    positions |= {start - 16, start - 1}  # the payload nonce
    for i in range(4):  # start, middle, tag of every chunk, the last one included
        base = start + i * ENC
        end = min(base + ENC, size)
        positions |= {base, (base + end) // 2, end - 16, end - 1}
    return sorted(positions)


def test_flipping_any_byte_is_caught_and_no_tampered_data_is_returned(
    stored: tuple[Vault, str, bytes],
) -> None:
    vault, file_id, data = stored
    path = _blob_path(vault, file_id)
    original = path.read_bytes()
    positions = _tamper_positions(path)
    assert len(positions) > 40
    for pos in positions:
        tampered = bytearray(original)
        tampered[pos] ^= 0x01
        path.write_bytes(bytes(tampered))
        released = bytearray()
        with pytest.raises(VaultCorrupted):
            reader = vault.open_file(file_id)
            while chunk := reader.read(10000):
                released += chunk
        # whatever came out before the error is authentic, never altered plaintext
        assert bytes(released) == data[: len(released)], pos
    path.write_bytes(original)
    assert _read_all(vault.open_file(file_id)) == data


def test_a_bad_chunk_raises_at_that_chunk_even_after_a_seek(
    stored: tuple[Vault, str, bytes],
) -> None:
    vault, file_id, data = stored
    path = _blob_path(vault, file_id)
    raw = bytearray(path.read_bytes())
    raw[_payload_start(path) + ENC + 100] ^= 0x80  # inside chunk 1
    path.write_bytes(bytes(raw))
    with vault.open_file(file_id) as reader:
        reader.seek(2 * CHUNK)
        assert reader.read(CHUNK) == data[2 * CHUNK : 3 * CHUNK]
        reader.seek(CHUNK - 10)
        assert reader.read(10) == data[CHUNK - 10 : CHUNK]
        with pytest.raises(VaultCorrupted, match="authentication"):
            reader.read(1)


@pytest.mark.parametrize("cut", ["header", "nonce", "mid_chunk", "chunk_boundary", "one_byte"])
def test_truncation_is_caught(stored: tuple[Vault, str, bytes], cut: str) -> None:
    vault, file_id, _ = stored
    path = _blob_path(vault, file_id)
    raw = path.read_bytes()
    start = _payload_start(path)
    length = {
        "header": start // 2,
        "nonce": start - 8,
        "mid_chunk": start + ENC + 500,
        "chunk_boundary": start + 3 * ENC,
        "one_byte": len(raw) - 1,
    }[cut]
    path.write_bytes(raw[:length])
    with pytest.raises(VaultCorrupted):
        _read_all(vault.open_file(file_id))


@pytest.mark.parametrize("extra", [b"\x00", bytes(16), bytes(ENC)])
def test_appended_data_is_caught(stored: tuple[Vault, str, bytes], extra: bytes) -> None:
    vault, file_id, _ = stored
    path = _blob_path(vault, file_id)
    with open(path, "ab") as f:
        f.write(extra)
    with pytest.raises(VaultCorrupted):
        _read_all(vault.open_file(file_id))


def test_swapping_two_blobs_is_caught_on_open(vault: Vault) -> None:
    a = vault.import_bytes(_data(5000, b"a"), "a.jpg")
    b = vault.import_bytes(_data(5000, b"b"), "b.jpg")  # same size: only the binding tells
    pa, pb = _blob_path(vault, a.id), _blob_path(vault, b.id)
    tmp = pa.with_name("swap")
    os.replace(pa, tmp)
    os.replace(pb, pa)
    os.replace(tmp, pb)
    for f in (a, b):
        with pytest.raises(VaultCorrupted, match="swapped"):
            vault.open_file(f.id)


def test_replacing_a_blob_with_a_new_valid_age_file_is_caught(vault: Vault) -> None:
    # The recipient is public: anyone can write a valid age file to it.
    f = vault.import_bytes(b"original statement", "s.txt")
    forged = age.encrypt_bytes(b"forged statement!!", [age.X25519Recipient.parse(vault.recipient)])
    _blob_path(vault, f.id).write_bytes(forged)
    with pytest.raises(VaultCorrupted, match="swapped or replaced"):
        vault.open_file(f.id)


def test_missing_blob_is_vault_corrupted(vault: Vault) -> None:
    f = vault.import_bytes(b"x", "x")
    _blob_path(vault, f.id).unlink()
    with pytest.raises(VaultCorrupted, match="missing"):
        vault.open_file(f.id)


def test_full_read_checks_the_recorded_sha256(vault: Vault) -> None:
    f = vault.import_bytes(_data(CHUNK + 3), "x.bin")
    with vault._index.transaction() as cur:  # an index that disagrees with the blob
        cur.execute("UPDATE files SET sha256 = ? WHERE id = ?", ("0" * 64, f.id))
    with pytest.raises(VaultCorrupted, match="SHA-256"):
        _read_all(vault.open_file(f.id))


@pytest.fixture(scope="module")
def shared_vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vault]:
    v = create_vault(
        tmp_path_factory.mktemp("hyp") / "vault", PASSPHRASE, work_factor=FAST_WORK_FACTOR
    )
    yield v
    v.close()


@settings(max_examples=25, deadline=None)
@given(
    size=st.one_of(
        st.integers(0, 3).map(lambda k: k * CHUNK),
        st.tuples(st.integers(0, 3), st.integers(-3, 3)).map(lambda t: max(0, t[0] * CHUNK + t[1])),
        st.integers(0, 3 * CHUNK + 100),
    ),
    offset=st.integers(0, 3 * CHUNK + 100),
)
def test_vault_round_trip_and_seek_for_sizes_around_chunk_boundaries(
    shared_vault: Vault, size: int, offset: int
) -> None:
    data = _data(size, b"hyp")
    f = shared_vault.import_bytes(data, "h.bin")
    assert (f.size, f.sha256) == (size, hashlib.sha256(data).hexdigest())
    with shared_vault.open_file(f.id) as reader:
        assert reader.read() == data
        reader.seek(offset)
        assert reader.read(CHUNK + 1) == data[offset : offset + CHUNK + 1]
    shared_vault.delete_file(f.id)


def test_without_the_sha256_check_only_the_whole_file_hash_is_skipped(vault: Vault) -> None:
    data = _data(3 * CHUNK + 5)
    f = vault.import_bytes(data, "x.bin")
    with vault._index.transaction() as cur:  # an index that disagrees with the blob
        cur.execute("UPDATE files SET sha256 = ? WHERE id = ?", ("0" * 64, f.id))
    with pytest.raises(VaultCorrupted, match="SHA-256"):
        _read_all(vault.open_file(f.id))
    assert _read_all(vault.open_file(f.id, check_sha256=False)) == data
    # ... while every chunk is still authenticated
    path = _blob_path(vault, f.id)
    raw = bytearray(path.read_bytes())
    raw[_payload_start(path) + 2 * ENC + 7] ^= 0x01  # inside chunk 2
    path.write_bytes(bytes(raw))
    with pytest.raises(VaultCorrupted, match="authentication"):
        _read_all(vault.open_file(f.id, check_sha256=False))


def test_a_swapped_blob_is_caught_without_the_sha256_check(vault: Vault) -> None:
    a = vault.import_bytes(_data(1000, b"a"), "a.bin")
    b = vault.import_bytes(_data(1000, b"b"), "b.bin")
    _blob_path(vault, a.id).write_bytes(_blob_path(vault, b.id).read_bytes())
    with pytest.raises(VaultCorrupted, match="swapped"):
        vault.open_file(a.id, check_sha256=False)


@pytest.mark.parametrize("read_size", [CHUNK, 2 * CHUNK + 1, 16 * CHUNK, 17 * CHUNK, 1 << 22])
def test_large_reads_return_the_plaintext_over_many_chunks(vault: Vault, read_size: int) -> None:
    data = _data(20 * CHUNK + 123, b"big")
    f = vault.import_bytes(data, "big.bin")
    out = bytearray()
    with vault.open_file(f.id) as reader:
        reader.seek(CHUNK - 7)  # unaligned start: first a partial chunk, then whole ones
        buf = bytearray(read_size)
        while n := reader.readinto(buf):
            out += buf[:n]
    assert bytes(out) == data[CHUNK - 7 :]
    assert _read_all(vault.open_file(f.id)) == data


def test_a_bad_chunk_inside_a_large_read_releases_no_altered_plaintext(vault: Vault) -> None:
    data = _data(20 * CHUNK + 9, b"bad")
    f = vault.import_bytes(data, "bad.bin")
    path = _blob_path(vault, f.id)
    raw = bytearray(path.read_bytes())
    raw[_payload_start(path) + 5 * ENC + 1000] ^= 0x01  # inside chunk 5 of the first batch
    path.write_bytes(bytes(raw))
    released = bytearray()
    buf = bytearray(16 * CHUNK)
    with (
        vault.open_file(f.id, check_sha256=False) as reader,
        pytest.raises(VaultCorrupted, match="authentication"),
    ):
        while n := reader.readinto(buf):
            released += buf[:n]
    assert released == b""  # the failed read returned nothing
    assert data[5 * CHUNK : 6 * CHUNK] not in bytes(buf)  # and left no plaintext of it behind
    assert buf[: 5 * CHUNK] == bytes(5 * CHUNK)  # chunks before it in that read were wiped too
