"""Sealed files are standard age: stock ``age -d`` opens them, their headers look like age's,
and SealedReader reproduces the C2SP CCTV vectors byte for byte from their file key and nonce."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

from tellakit import sealed
from tellakit.errors import AgeNoMatch
from tellakit.sealed import SealedKey, new_sealed_file
from tellakit.vault import age
from tellakit.vault.age.header import parse as parse_header
from tellakit.vault.age.ssh import SshEd25519Identity, SshEd25519Recipient
from tellakit.vault.age.stream import iter_decrypt, payload_key, read_nonce

AGE = shutil.which("age")
AGE_KEYGEN = shutil.which("age-keygen")
SSH_KEYGEN = shutil.which("ssh-keygen")
needs_age = pytest.mark.skipif(
    AGE is None or AGE_KEYGEN is None,
    reason="stock age / age-keygen not installed (apt install age)",
)
CHUNK = age.CHUNK


def _cctv() -> Path | None:
    """shared/testdata/age-cctv beside the checkout, or beside any folder above it."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "testdata" / "age-cctv"
        if candidate.is_dir():
            return candidate
    return None


CCTV = _cctv()


def _age_keygen(path: Path) -> age.X25519Identity:
    subprocess.run([AGE_KEYGEN, "-o", str(path)], check=True, capture_output=True)
    line = next(x for x in path.read_text().splitlines() if x.startswith("AGE-SECRET-KEY-1"))
    return age.X25519Identity.parse(line)


@needs_age
@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 17 * CHUNK + 9])
def test_stock_age_decrypts_a_sealed_file(tmp_path: Path, size: int) -> None:
    identity = _age_keygen(tmp_path / "org.key")
    other = age.X25519Identity.generate()
    data = hashlib.shake_256(b"stock" + bytes([size % 251])).digest(size) if size else b""
    key = new_sealed_file([other.recipient(), identity.recipient()])
    path = tmp_path / "1.age"
    path.write_bytes(sealed.seal_bytes(data, key))
    out = subprocess.run(
        [AGE, "-d", "-i", str(tmp_path / "org.key"), str(path)], check=True, capture_output=True
    )
    assert out.stdout == data


@needs_age
@pytest.mark.skipif(
    SSH_KEYGEN is None, reason="ssh-keygen not installed (apt install openssh-client)"
)
def test_ssh_ed25519_recipients_interoperate_with_stock_age(tmp_path: Path) -> None:
    key_path = tmp_path / "id_ed25519"
    subprocess.run(
        [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "org", "-f", str(key_path)],
        check=True,
    )
    public_line = (tmp_path / "id_ed25519.pub").read_text()
    recipient = sealed.parse_recipient(public_line)
    assert isinstance(recipient, SshEd25519Recipient)
    assert public_line.startswith(str(recipient))
    data = b"seen from the bridge" * 5000
    # ours -> stock age
    path = tmp_path / "ssh.age"
    path.write_bytes(sealed.seal_bytes(data, new_sealed_file([recipient])))
    out = subprocess.run(
        [AGE, "-d", "-i", str(key_path), str(path)], check=True, capture_output=True
    )
    assert out.stdout == data
    # stock age -> ours
    theirs = subprocess.run(
        [AGE, "-R", str(tmp_path / "id_ed25519.pub")], input=data, check=True, capture_output=True
    ).stdout
    identity = SshEd25519Identity.parse(key_path.read_bytes())
    assert age.decrypt_bytes(theirs, [identity]) == data
    with pytest.raises(AgeNoMatch):
        age.decrypt_bytes(theirs, [age.X25519Identity.generate()])


def test_an_ed25519_key_that_is_not_a_curve_point_is_refused() -> None:
    # y = 2 gives x^2 = 3 / (4d + 1), not a square mod p: no such point
    bad = (2).to_bytes(32, "little")
    wire = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + bad
    line = "ssh-ed25519 " + base64.b64encode(wire).decode()
    with pytest.raises(ValueError, match="not a point"):
        SshEd25519Recipient.parse(line)


def test_the_header_has_the_shape_age_writes() -> None:
    """CCTV-style checks of what new_sealed_file writes: version line, one X25519 stanza per
    recipient (one 32-byte share argument, a 32-byte body in canonical base64 lines), the MAC
    line, and a MAC that verifies under the file key."""
    recipients = [age.X25519Identity.generate().recipient() for _ in range(3)]
    key = new_sealed_file(recipients)
    text = key.header.decode("ascii")
    lines = text.split("\n")
    assert lines[0] == "age-encryption.org/v1"
    assert text.endswith("\n") and "\r" not in text
    stanza_lines = [x for x in lines if x.startswith("-> ")]
    assert len(stanza_lines) == 3
    for line in stanza_lines:
        assert re.fullmatch(r"-> X25519 [A-Za-z0-9+/]{43}", line)
    assert re.fullmatch(r"--- [A-Za-z0-9+/]{43}", lines[-2]) and lines[-1] == ""
    parsed = parse_header(io.BytesIO(key.header + key.nonce))
    assert parsed.length == len(key.header)
    assert all(len(s.body) == 32 for s in parsed.stanzas)
    assert parsed.verify_mac(key.file_key)
    key.check()
    # the nonce follows the header and the first chunk is sealed under HKDF(file key, nonce)
    out = sealed.seal_bytes(b"x", key)
    assert out[: key.prefix_size] == key.header + key.nonce
    f = io.BytesIO(out[len(key.header) :])
    key_of_payload = payload_key(key.file_key, read_nonce(f))
    assert b"".join(iter_decrypt(f, key_of_payload)) == b"x"


def _vectors() -> list[str]:
    if CCTV is None:
        return []
    names = []
    for path in sorted(CCTV.iterdir()):
        if path.name == "README.md":
            continue
        head = path.read_bytes().partition(b"\n\n")[0].decode()
        if "expect: success" in head and "armored: yes" not in head:
            names.append(path.name)
    return names


@pytest.mark.skipif(CCTV is None, reason="CCTV vectors (shared/testdata/age-cctv) not found")
@pytest.mark.parametrize("name", _vectors())
def test_sealed_reader_reproduces_the_cctv_vector(name: str) -> None:
    """Given a vector's file key, header and nonce, encrypting its plaintext with SealedReader
    gives the vector's file exactly: STREAM chunking, last-chunk flags and empty payloads
    agree with the reference implementation's."""
    assert CCTV is not None
    raw = (CCTV / name).read_bytes()
    head, _, body = raw.partition(b"\n\n")
    fields = dict(line.split(": ", 1) for line in head.decode().splitlines())
    if fields.get("compressed") == "zlib":
        body = zlib.decompress(body)
    file_key = bytes.fromhex(fields["file key"])
    header = parse_header(io.BytesIO(body))
    nonce = body[header.length : header.length + 16]
    plaintext = b"".join(
        iter_decrypt(io.BytesIO(body[header.length + 16 :]), payload_key(file_key, nonce))
    )
    assert hashlib.sha256(plaintext).hexdigest() == fields["payload"]
    key = SealedKey(file_key, body[: header.length], nonce)
    key.check()
    assert sealed.seal_bytes(plaintext, key) == body
    assert key.sealed_size(len(plaintext)) == len(body)
