"""The C2SP CCTV age vectors (shared/testdata/age-cctv) against tellakit.vault.age.

Every vector is listed; those for features tellakit does not implement are skipped, each with
its reason. For the rest, the outcome (success, header/HMAC/payload failure, no match) and the
SHA-256 of all plaintext released, even before a failure, must match the vector.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from pathlib import Path

import pytest

from tellakit.errors import AgeHeaderError, AgeHMACError, AgeNoMatch, AgePayloadError
from tellakit.vault import age

CCTV = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata" / "age-cctv"

if not CCTV.is_dir():
    pytest.skip(
        f"CCTV vectors not found at {CCTV} (shared/ beside the checkout)", allow_module_level=True
    )

VECTORS = sorted(p.name for p in CCTV.iterdir() if p.is_file() and p.name != "README.md")

OUTCOMES = {
    "success": None,
    "no match": AgeNoMatch,
    "HMAC failure": AgeHMACError,
    "header failure": AgeHeaderError,
    "payload failure": AgePayloadError,
}


def _load(name: str) -> tuple[dict[str, list[str]], bytes]:
    raw = (CCTV / name).read_bytes()
    head, _, body = raw.partition(b"\n\n")
    fields: dict[str, list[str]] = {}
    for line in head.decode().splitlines():
        key, _, value = line.partition(": ")
        fields.setdefault(key, []).append(value)
    if fields.get("compressed") == ["zlib"]:
        body = zlib.decompress(body)
    return fields, body


def _skip_reason(name: str, fields: dict[str, list[str]]) -> str | None:
    if fields.get("armored") == ["yes"] or fields["expect"] == ["armor failure"]:
        return "ASCII armor is not implemented (tellakit writes and reads binary age files only)"
    if any(i.startswith("AGE-SECRET-KEY-PQ-") for i in fields.get("identity", [])):
        return "hybrid ML-KEM-768+X25519 (post-quantum) recipients are not implemented"
    return None


@pytest.mark.parametrize("name", VECTORS)
def test_cctv_vector(name: str) -> None:
    fields, body = _load(name)
    reason = _skip_reason(name, fields)
    if reason:
        pytest.skip(f"{name}: {reason}")
    identities: list[age.Identity] = [
        age.X25519Identity.parse(i) for i in fields.get("identity", [])
    ]
    identities += [age.ScryptIdentity(p) for p in fields.get("passphrase", [])]
    expected = OUTCOMES[fields["expect"][0]]
    released = hashlib.sha256()
    error: Exception | None = None
    try:
        for chunk in age.iter_decrypt_file(io.BytesIO(body), identities):
            released.update(chunk)
    except (AgeHeaderError, AgeHMACError, AgeNoMatch, AgePayloadError) as exc:
        error = exc
    if expected is None:
        assert error is None, f"expected success, got {error!r}"
    else:
        assert type(error) is expected, f"expected {expected.__name__}, got {error!r}"
    if "payload" in fields:
        assert released.hexdigest() == fields["payload"][0]


@pytest.mark.parametrize(
    "name", [n for n in VECTORS if n.startswith(("stream_", "x25519", "scrypt"))]
)
def test_cctv_seekable_reader_agrees(name: str) -> None:
    """The seekable reader accepts exactly the files the streaming decryptor accepts in full."""
    fields, body = _load(name)
    if _skip_reason(name, fields):
        pytest.skip(_skip_reason(name, fields) or "")
    identities: list[age.Identity] = [
        age.X25519Identity.parse(i) for i in fields.get("identity", [])
    ]
    identities += [age.ScryptIdentity(p) for p in fields.get("passphrase", [])]
    if fields["expect"] == ["success"]:
        reader = age.AgeReader(io.BytesIO(body), identities)
        assert hashlib.sha256(reader.read()).hexdigest() == fields["payload"][0]
    else:
        with pytest.raises((AgeHeaderError, AgeHMACError, AgeNoMatch, AgePayloadError)):
            reader = age.AgeReader(io.BytesIO(body), identities)
            while reader.read(age.CHUNK):
                pass
