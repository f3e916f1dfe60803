"""The age v1 header: strict parsing and serialising (C2SP age.md, "Header").

The parser refuses anything the spec does not allow, so that two implementations never disagree
about what a file means: non-canonical base64, body lines longer than 64 columns, a missing
final short line, empty or non-VCHAR arguments, CR characters, unknown versions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import BinaryIO

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tellakit.errors import AgeHeaderError

VERSION_LINE = b"age-encryption.org/v1"
COLUMNS = 64  # base64 characters per full body line
MAX_LINE = 64 * 1024  # a sane bound so a hostile header cannot exhaust memory
MAX_HEADER = 1024 * 1024
MAC_SIZE = 32


def b64encode(data: bytes) -> str:
    """Standard base64 without padding, as age writes it."""
    return base64.b64encode(data).decode("ascii").rstrip("=")


def b64decode(text: bytes | str) -> bytes:
    """Decode canonical unpadded base64; AgeHeaderError for anything else."""
    raw = text.encode("ascii") if isinstance(text, str) else bytes(text)
    if b"=" in raw or len(raw) % 4 == 1:
        raise AgeHeaderError("age header: base64 must be unpadded")
    try:
        data = base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=True)
    except (ValueError, TypeError):
        raise AgeHeaderError("age header: invalid base64") from None
    if b64encode(data).encode("ascii") != raw:
        raise AgeHeaderError("age header: non-canonical base64")
    return data


@dataclass
class Stanza:
    """One recipient stanza: a type, its arguments, and the binary body."""

    type: str
    args: list[str] = field(default_factory=list)
    body: bytes = b""

    def serialise(self) -> bytes:
        """The stanza's lines as they appear in a header."""
        line = " ".join(["->", self.type, *self.args]).encode("ascii") + b"\n"
        encoded = b64encode(self.body).encode("ascii")
        lines = [encoded[i : i + COLUMNS] for i in range(0, len(encoded), COLUMNS)]
        if not lines or len(lines[-1]) == COLUMNS:
            lines.append(b"")  # the body always ends with a line shorter than 64 columns
        return line + b"".join(chunk + b"\n" for chunk in lines)


@dataclass
class Header:
    """A parsed header: its stanzas, the MAC, and the exact bytes the MAC covers."""

    stanzas: list[Stanza]
    mac: bytes
    mac_input: bytes  # everything up to and including "---"
    length: int  # bytes from the start of the file to the start of the payload nonce

    def verify_mac(self, file_key: bytes) -> bool:
        """True if the header MAC matches for ``file_key``."""
        return hmac.compare_digest(compute_mac(file_key, self.mac_input), self.mac)


def _is_arg(arg: bytes) -> bool:
    return bool(arg) and all(33 <= c <= 126 for c in arg)


def compute_mac(file_key: bytes, mac_input: bytes) -> bytes:
    """HMAC-SHA256 of the header under HKDF(file key, info "header")."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"header").derive(file_key)
    return hmac.new(key, mac_input, hashlib.sha256).digest()


def _readline(f: BinaryIO, consumed: int) -> bytes:
    line = f.readline(MAX_LINE + 1)
    if not line.endswith(b"\n"):
        raise AgeHeaderError("age header: truncated or over-long line")
    if consumed + len(line) > MAX_HEADER:
        raise AgeHeaderError("age header: too large")
    return line[:-1]


def parse(f: BinaryIO) -> Header:
    """Read and check a header from ``f``, leaving ``f`` at the payload nonce."""
    buf = bytearray()
    first = _readline(f, 0)
    if first != VERSION_LINE:
        raise AgeHeaderError("not an age v1 file (unknown version line)")
    buf += first + b"\n"
    stanzas: list[Stanza] = []
    while True:
        line = _readline(f, len(buf))
        if line.startswith(b"-> "):
            buf += line + b"\n"
            parts = line[3:].split(b" ")
            if not all(_is_arg(p) for p in parts):
                raise AgeHeaderError("age header: empty or invalid stanza argument")
            body = bytearray()
            while True:
                body_line = _readline(f, len(buf))
                buf += body_line + b"\n"
                if len(body_line) > COLUMNS:
                    raise AgeHeaderError("age header: stanza body line longer than 64 columns")
                body += b64decode(body_line)
                if len(body_line) < COLUMNS:
                    break
            stanzas.append(
                Stanza(
                    parts[0].decode("ascii"), [p.decode("ascii") for p in parts[1:]], bytes(body)
                )
            )
        elif line.startswith(b"---"):
            if not stanzas:
                raise AgeHeaderError("age header: no recipient stanza")
            if not line.startswith(b"--- ") or len(line) != 4 + 43:
                raise AgeHeaderError("age header: malformed MAC line")
            mac = b64decode(line[4:])
            buf += b"---"
            return Header(stanzas, mac, bytes(buf), len(buf) + 1 + 43 + 1)
        else:
            raise AgeHeaderError("age header: unexpected line")


def serialise(stanzas: list[Stanza], file_key: bytes) -> bytes:
    """The complete header for ``stanzas``, MAC included, ending with a newline."""
    mac_input = VERSION_LINE + b"\n" + b"".join(s.serialise() for s in stanzas) + b"---"
    mac = compute_mac(file_key, mac_input)
    return mac_input + b" " + b64encode(mac).encode("ascii") + b"\n"
