"""tellakit.vault.age: round trips, the seekable reader, bech32 keys, strict writing."""

from __future__ import annotations

import hashlib
import io
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tellakit.errors import AgeHeaderError, AgeHMACError, AgeNoMatch, AgePayloadError
from tellakit.vault import age
from tellakit.vault.age import bech32

CHUNK = age.CHUNK
IDENTITY = age.X25519Identity.generate()


def _data(n: int) -> bytes:
    return hashlib.shake_256(n.to_bytes(8, "big")).digest(n) if n else b""


def _encrypt(data: bytes) -> bytes:
    return age.encrypt_bytes(data, [IDENTITY.recipient()])


SIZES = st.one_of(
    st.sampled_from([0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 1, 3 * CHUNK - 1]),
    st.integers(min_value=0, max_value=3 * CHUNK + 17),
)


@settings(max_examples=40, deadline=None)
@given(size=SIZES, piece=st.integers(min_value=1, max_value=CHUNK + 100))
def test_round_trip_any_size_and_write_pattern(size: int, piece: int) -> None:
    data = _data(size)
    out = io.BytesIO()
    writer, _ = age.encrypt(out, [IDENTITY.recipient()])
    for i in range(0, size, piece):
        writer.write(data[i : i + piece])
    writer.close()
    blob = out.getvalue()
    chunks = max(1, -(-size // CHUNK))
    assert len(blob) - blob.index(b"\n---") > chunks * 16 + 16  # header MAC line + nonce + tags
    assert age.decrypt_bytes(blob, [IDENTITY]) == data
    reader = age.AgeReader(io.BytesIO(blob), [IDENTITY])
    assert reader.size == size
    assert reader.read() == data


@settings(max_examples=40, deadline=None)
@given(
    size=SIZES,
    offset=st.integers(min_value=0, max_value=3 * CHUNK + 40),
    n=st.integers(0, 2 * CHUNK),
)
def test_seek_then_read_returns_that_slice(size: int, offset: int, n: int) -> None:
    data = _data(size)
    reader = age.AgeReader(io.BytesIO(_encrypt(data)), [IDENTITY])
    assert reader.seek(offset) == offset
    got = reader.read(n)
    assert got == data[offset : offset + n]
    assert reader.tell() == offset + len(got)


def test_seek_decrypts_only_the_chunk_it_needs() -> None:
    data = _data(5 * CHUNK + 123)
    blob = bytearray(_encrypt(data))
    header_len = age.AgeReader(io.BytesIO(bytes(blob)), [IDENTITY]).header.length + 16
    # Corrupt chunk 1 only: chunks 0, 2, 3, 4, 5 still read; chunk 1 raises.
    blob[header_len + age.ENC_CHUNK + 5] ^= 1
    reader = age.AgeReader(io.BytesIO(bytes(blob)), [IDENTITY])
    reader.seek(3 * CHUNK + 7)
    assert reader.read(100) == data[3 * CHUNK + 7 : 3 * CHUNK + 107]
    reader.seek(5 * CHUNK)
    assert reader.read() == data[5 * CHUNK :]
    reader.seek(CHUNK + 10)
    with pytest.raises(AgePayloadError):
        reader.read(10)


def test_seek_relative_and_from_end() -> None:
    data = _data(2 * CHUNK + 9)
    reader = age.AgeReader(io.BytesIO(_encrypt(data)), [IDENTITY])
    reader.seek(-9, os.SEEK_END)
    assert reader.read() == data[-9:]
    reader.seek(CHUNK)
    reader.seek(-1, os.SEEK_CUR)
    assert reader.read(2) == data[CHUNK - 1 : CHUNK + 1]
    with pytest.raises(ValueError):
        reader.seek(-1)


def test_truncated_at_a_chunk_boundary_is_refused_by_both_readers() -> None:
    data = _data(3 * CHUNK)
    blob = _encrypt(data)
    cut = blob[: len(blob) - age.ENC_CHUNK]  # drop the final chunk exactly
    with pytest.raises(AgePayloadError):
        age.AgeReader(io.BytesIO(cut), [IDENTITY])
    with pytest.raises(AgePayloadError):
        age.decrypt_bytes(cut, [IDENTITY])


def test_appended_bytes_are_refused_by_both_readers() -> None:
    blob = _encrypt(_data(CHUNK + 5)) + b"x"
    with pytest.raises(AgePayloadError):
        age.AgeReader(io.BytesIO(blob), [IDENTITY])
    with pytest.raises(AgePayloadError):
        age.decrypt_bytes(blob, [IDENTITY])


def test_wrong_identity_is_no_match_and_altered_header_is_hmac_failure() -> None:
    blob = _encrypt(b"secret")
    with pytest.raises(AgeNoMatch):
        age.decrypt_bytes(blob, [age.X25519Identity.generate()])
    # Add a grease stanza: still parses, but the MAC no longer covers the header.
    forged = blob.replace(b"\n---", b"\n-> grease x\n\n---", 1)
    with pytest.raises(AgeHMACError):
        age.decrypt_bytes(forged, [IDENTITY])


def test_scrypt_round_trip_and_wrong_passphrase() -> None:
    blob = age.encrypt_bytes(b"key material", [age.ScryptRecipient("pw", work_factor=4)])
    assert age.decrypt_bytes(blob, [age.ScryptIdentity("pw")]) == b"key material"
    with pytest.raises(AgeNoMatch):
        age.decrypt_bytes(blob, [age.ScryptIdentity("other")])
    with pytest.raises(AgeHeaderError):  # a caller may cap the work factor it accepts
        age.decrypt_bytes(blob, [age.ScryptIdentity("pw", max_work_factor=3)])


def test_scrypt_must_be_the_only_recipient() -> None:
    with pytest.raises(ValueError, match="only recipient"):
        age.encrypt_bytes(b"", [age.ScryptRecipient("pw", 4), IDENTITY.recipient()])


def test_identity_and_recipient_strings_round_trip() -> None:
    text = str(IDENTITY)
    assert text.startswith("AGE-SECRET-KEY-1")
    assert age.X25519Identity.parse(text) == IDENTITY
    recipient = str(IDENTITY.recipient())
    assert recipient.startswith("age1")
    assert age.X25519Recipient.parse(recipient) == IDENTITY.recipient()
    assert "AGE-SECRET-KEY" not in repr(IDENTITY)


@pytest.mark.parametrize(
    "bad",
    [
        "age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq",  # checksum
        "AGE1" + "x" * 10,
        "Age1abc",
    ],
)
def test_bad_recipient_strings_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        age.X25519Recipient.parse(bad)


def test_bech32_refuses_mixed_case_and_bad_checksum() -> None:
    s = bech32.encode("age", bytes(32))
    assert bech32.decode(s) == ("age", bytes(32))
    with pytest.raises(ValueError):
        bech32.decode(s[:-1] + ("q" if s[-1] != "q" else "p"))
    with pytest.raises(ValueError):
        bech32.decode(s[:5] + s[5].upper() + s[6:])


@pytest.mark.parametrize("body_len", [0, 1, 32, 47, 48, 49, 96, 200])
def test_stanza_bodies_serialise_canonically_and_parse_back(body_len: int) -> None:
    from tellakit.vault.age.header import Stanza, parse, serialise

    stanza = Stanza("grease", ["a", "b!"], bytes(range(body_len)))
    lines = stanza.serialise().split(b"\n")[1:-1]
    assert all(len(line) == 64 for line in lines[:-1])
    assert len(lines[-1]) < 64  # a full last line is followed by an empty one
    data = serialise([stanza], bytes(16))
    header = parse(io.BytesIO(data))
    assert header.stanzas == [stanza]
    assert header.length == len(data)
    assert header.verify_mac(bytes(16))
    assert not header.verify_mac(bytes(15) + b"\x01")
