"""What goes on the wire for one report: its names, bodies, sizes and expected digests.

The submission (submission.py) and the file transfer (transfer.py) ask one part, a
``ReportWire``, for everything that depends on the report's layout
(docs/server-layout.md); it has two implementations:

- ``ReadableWire``, Tella's layout: the folder is named after the title, each file keeps its
  (sanitized) name, the bodies are the vault's plaintext, ``X-OC-MTime`` and the plaintext's
  ``OC-Checksum`` go with them, and the server's SHA-256 must equal the vault's record.
- ``SealedWire``: the folder ``YYYY-MM-DD HHMM xxxx`` (the readable name with
  ``readable_names``), files ``1.age`` ..., ``description.txt.age``, ``manifest.json.age``
  (always, last). Every body is the age file that the key stored for it makes of the
  plaintext (``SealedReader``, which starts at any offset, so a resume sends the same bytes);
  no mtime and no plaintext checksum go out; the server's SHA-256 must equal the
  ciphertext's, taken from the in-order pass of the upload or, after a resume, from one
  extra pass, and kept (``sealed_sha256``) for the manifest.

Every object sent is a ``WireObject``: its size and the SHA-256 of the bytes on the wire, the
one value verification.py compares with the digest the server computed (never with a
checksum we sent). A ``WireFile`` (an attachment) is one, read from the vault; ``WireBytes``
(the description, the manifest) is one held in memory.

``wire_for`` fixes the layout of a report nothing fixed yet (queued before the vault had a
connection: the vault fixes it when a report leaves the draft state) and stores the keys a
sealed report still lacks, before any byte of it is sent. Keys are made once per file and
kept: one key, one plaintext (an attachment's or the description's never changes once the
report left the draft state). The manifest changes on every attempt (``submitted_at``) and
is sealed under a fresh key each time it is built; no key is ever a vault blob's own.

Thread rules: no lock and no shared state; a wire belongs to the one worker running its report.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Protocol, cast

from tellakit.engine.manifest import build_manifest, description_bytes
from tellakit.engine.naming import (
    DESCRIPTION_NAME,
    MANIFEST_NAME,
    assign_file_names,
    candidates,
    sanitize_name,
)
from tellakit.engine.ports import BlobStream, ReportStore
from tellakit.engine.readahead import ReadAhead
from tellakit.errors import VaultCorrupted
from tellakit.nextcloud.models import NameRules
from tellakit.reports import Attachment, Report
from tellakit.sealed import (
    SEALED_DESCRIPTION,
    SEALED_MANIFEST,
    ManifestFile,
    ReportManifest,
    SealedKey,
    SealedReader,
    attachment_name,
    build_sealed_manifest,
    new_sealed_file,
    parse_recipients,
    seal_bytes,
    sealed_folder_candidates,
    sealed_sha256,
)
from tellakit.sealed.layout import READABLE_DESCRIPTION
from tellakit.sealed.reader import PlainSource
from tellakit.vault.age.stream import CHUNK, ENC_CHUNK

__all__ = [
    "ReadableWire",
    "ReportWire",
    "SealedWire",
    "WireBytes",
    "WireFile",
    "WireObject",
    "wire_for",
]


class WireObject(Protocol):
    """What the server must hold for one object sent: the bytes on the wire."""

    @property
    def size(self) -> int:
        """The body's length: what the server will hold."""
        ...

    @property
    def sha256(self) -> str:
        """Hex SHA-256 (lowercase) of the body: what the server's digest must be."""
        ...


class WireBytes:
    """A small body held in memory (the description, the manifest) as it goes on the wire."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)
        self.sha256 = hashlib.sha256(data).hexdigest()


class WireFile(WireObject, Protocol):
    """One attachment as it goes on the wire (its bytes read from the vault)."""

    @property
    def mtime(self) -> int | None:
        """``X-OC-MTime`` to send (None: none)."""
        ...

    def announced_sha256(self) -> str | None:
        """Hex SHA-256 to announce in ``OC-Checksum``, or None (not known, or not to say)."""
        ...

    def open(self, *, digest: bool = True) -> BlobStream:
        """A seekable reader of the body's bytes (seek to where a chunk starts, then read).

        ``digest=False``: the caller takes the body's digest itself (a chunked upload's
        ``InOrderDigest``), so the reader need not hash what it reads for ``sent_in_order``."""
        ...

    def sent_in_order(self, reader: Any) -> None:
        """``reader`` (from :meth:`open`) gave the whole body in order: keep what it learnt."""
        ...

    def plain_bytes(self, wire_bytes: int) -> int:
        """How much of the plaintext the first ``wire_bytes`` of the body carry (progress)."""
        ...


class ReportWire(Protocol):
    """Everything about one report that depends on its layout."""

    @property
    def sealed(self) -> bool: ...

    @property
    def description_name(self) -> str: ...

    @property
    def manifest_name(self) -> str: ...

    @property
    def manifest_always(self) -> bool:
        """True when the manifest is written whatever ``upload_manifest`` says."""
        ...

    def file_names(self, attachments: Sequence[Attachment], rules: NameRules) -> list[str]:
        """Names on the server for the attachments that have none yet (``remote_name``),
        in position order, clear of the ones already chosen."""
        ...

    def folder_names(
        self, rules: NameRules, *, after: str | None, allow_4byte_utf8: bool = True
    ) -> Iterator[str]:
        """Report folder names to try with MKCOL, in order; ``after``: a recorded name that
        turned out to be someone else's (continue past it); ``allow_4byte_utf8`` False once
        the server refused names with emoji (no utf8mb4)."""
        ...

    def description(self) -> bytes:
        """The description file's bytes as they go on the wire."""
        ...

    def file(self, att: Attachment) -> WireFile: ...

    def manifest(
        self, *, folder_name: str, submitted_at: datetime, captured: Mapping[str, datetime | None]
    ) -> bytes:
        """The manifest's bytes as they go on the wire (``captured``: file id -> import time)."""
        ...


def wire_for(
    vault: ReportStore,
    report: Report,
    *,
    encrypt_to: Sequence[str] = (),
    readable_names: bool = False,
    tellakit_version: str,
) -> ReportWire:
    """The wire of ``report``; fixes its layout from the connection's ``encrypt_to`` and
    ``readable_names`` if nothing fixed it yet, and stores the keys it still lacks.

    ConnectionSettingsError when a stored recipient does not parse (nothing is sent).
    """
    if report.sealed_to is None:
        fixed = {"sealed_to": tuple(encrypt_to), "readable_names": readable_names}
        _record(vault, report, **fixed)
    if not report.sealed:
        return ReadableWire(vault, report, tellakit_version)
    return SealedWire(vault, report, tellakit_version)


def _record(vault: ReportStore, report: Report, **fields: Any) -> None:
    vault.update_report_submission(report.id, **fields)
    for key, value in fields.items():
        setattr(report, key, value)


def _ordered(attachments: Sequence[Attachment]) -> list[Attachment]:
    return sorted(attachments, key=lambda a: a.position)


def _open_at(vault: ReportStore, file_id: str, offset: int) -> BlobStream:
    """The vault's decrypting reader of a file, at plaintext ``offset``.

    Without its whole-file SHA-256 pass: the reader still checks the header MAC bound in the
    index and authenticates every 64 KiB chunk, so only the vault's own bytes are sent; the
    upload is checked end to end against the server's digest instead.
    """
    reader = vault.open_file(file_id, check_sha256=False)
    reader.seek(offset)
    return reader


# --- the readable layout --------------------------------------------------------------------


class ReadableFile:
    """An attachment sent as its plaintext."""

    def __init__(self, vault: ReportStore, att: Attachment) -> None:
        self._vault = vault
        self._att = att
        self.size = att.size

    @property
    def mtime(self) -> int | None:
        try:
            return int(self._vault.get_file(self._att.file_id).imported_at.timestamp())
        except Exception:  # the mtime is a nicety; never fail an upload over it
            return None

    def announced_sha256(self) -> str | None:
        return self._att.sha256

    def open(self, *, digest: bool = True) -> BlobStream:
        return _open_at(self._vault, self._att.file_id, 0)

    def sent_in_order(self, reader: Any) -> None:
        """Nothing to learn: the vault recorded the SHA-256 at import."""

    @property
    def sha256(self) -> str:
        return self._att.sha256.lower()

    def plain_bytes(self, wire_bytes: int) -> int:
        return wire_bytes


class ReadableWire:
    """Tella's layout: names from the title and the files' own names, plaintext bodies."""

    sealed = False
    description_name = DESCRIPTION_NAME
    manifest_name = MANIFEST_NAME
    manifest_always = False

    def __init__(self, vault: ReportStore, report: Report, tellakit_version: str) -> None:
        self._vault = vault
        self._report = report
        self._version = tellakit_version

    def file_names(self, attachments: Sequence[Attachment], rules: NameRules) -> list[str]:
        atts = _ordered(attachments)
        fixed = [a.remote_name for a in atts if a.remote_name is not None]
        todo = [a.name for a in atts if a.remote_name is None]
        return assign_file_names(todo, rules, taken=[DESCRIPTION_NAME, MANIFEST_NAME, *fixed])

    def folder_names(
        self, rules: NameRules, *, after: str | None, allow_4byte_utf8: bool = True
    ) -> Iterator[str]:
        title = sanitize_name(
            self._report.title, rules, is_file=False, allow_4byte_utf8=allow_4byte_utf8
        )
        names = candidates(title, is_file=False)
        if after is not None:
            for name in names:
                if name == after:
                    break
        return names

    def description(self) -> bytes:
        return description_bytes(self._report)

    def file(self, att: Attachment) -> WireFile:
        return ReadableFile(self._vault, att)

    def manifest(
        self, *, folder_name: str, submitted_at: datetime, captured: Mapping[str, datetime | None]
    ) -> bytes:
        return build_manifest(
            self._report,
            folder_name=folder_name,
            submitted_at=submitted_at,
            captured_at=captured,
            tellakit_version=self._version,
        )


# --- the sealed layout ----------------------------------------------------------------------


def _key(text: str | None, what: str) -> SealedKey:
    if text is None:
        raise VaultCorrupted(f"The sealing key of {what} is missing from the vault's index.")
    try:
        return SealedKey.loads(text)
    except ValueError as exc:
        raise VaultCorrupted(f"The sealing key of {what} in the vault is unusable: {exc}") from None


class SealedFile:
    """An attachment sent as the age file its stored key makes of the plaintext."""

    mtime = None  # the capture time would tell the host when the evidence was taken

    def __init__(self, vault: ReportStore, report_id: str, att: Attachment) -> None:
        self._vault = vault
        self._report_id = report_id
        self._att = att
        self._key = _key(att.sealed_key, repr(att.name))
        self.size = self._key.sealed_size(att.size)

    def announced_sha256(self) -> str | None:
        return self._att.sealed_sha256  # the ciphertext's, once known; never the plaintext's

    def open(self, *, digest: bool = True) -> BlobStream:
        reader = SealedReader(self._open_plain, self._key, self._att.size, digest=digest)
        # Sealing costs about three times the plain body's CPU: it runs on a second thread,
        # ahead of the send (readahead.py).
        return ReadAhead(reader, self.size)

    def _open_plain(self, offset: int) -> PlainSource:
        # A vault reader never answers None (it is not a non-blocking stream).
        return cast(PlainSource, _open_at(self._vault, self._att.file_id, offset))

    def sent_in_order(self, reader: Any) -> None:
        sealed = getattr(reader, "inner", reader)  # ReadAhead wraps the SealedReader
        # A SealedReader, or the transfer's digest of chunk bodies read in order.
        sha256_hex = getattr(sealed, "sha256_hex", None)
        digest = sha256_hex() if callable(sha256_hex) else None
        if digest is not None:
            self._keep(digest)

    @property
    def sha256(self) -> str:
        if self._att.sealed_sha256 is None:  # resumed mid-file: one pass over the file
            self._keep(sealed_sha256(self._open_plain, self._key, self._att.size))
        assert self._att.sealed_sha256 is not None
        return self._att.sealed_sha256

    def _keep(self, digest: str) -> None:
        if self._att.sealed_sha256 != digest:
            self._vault.update_attachment(self._report_id, self._att.id, sealed_sha256=digest)
            self._att.sealed_sha256 = digest

    def plain_bytes(self, wire_bytes: int) -> int:
        chunks, within = divmod(max(0, wire_bytes - self._key.prefix_size), ENC_CHUNK)
        return min(self._att.size, chunks * CHUNK + min(within, CHUNK))


class SealedWire:
    """The sealed layout: numbered age files to the report's recipients, names that say
    nothing (or the readable folder name with ``readable_names``)."""

    sealed = True
    description_name = SEALED_DESCRIPTION
    manifest_name = SEALED_MANIFEST
    manifest_always = True  # a sealed folder without its manifest cannot be read back

    def __init__(self, vault: ReportStore, report: Report, tellakit_version: str) -> None:
        self._vault = vault
        self._report = report
        self._version = tellakit_version
        self._recipients = parse_recipients(report.sealed_to or ())
        self._store_missing_keys()
        self._description_key = _key(report.description_key, "the description")

    def _store_missing_keys(self) -> None:
        """A fresh key for the description and each attachment that has none, stored before
        any of their bytes is sent (each key seals that one plaintext, on every attempt)."""
        if self._report.description_key is None:
            _record(self._vault, self._report, description_key=self._new_key())
        for att in self._report.attachments:
            if att.sealed_key is None:
                key = self._new_key()
                self._vault.update_attachment(self._report.id, att.id, sealed_key=key)
                att.sealed_key = key

    def _new_key(self) -> str:
        return new_sealed_file(self._recipients).dumps()

    def file_names(self, attachments: Sequence[Attachment], rules: NameRules) -> list[str]:
        atts = _ordered(attachments)
        return [attachment_name(n) for n, a in enumerate(atts, 1) if a.remote_name is None]

    def folder_names(
        self, rules: NameRules, *, after: str | None, allow_4byte_utf8: bool = True
    ) -> Iterator[str]:
        if self._report.readable_names:
            return ReadableWire(self._vault, self._report, self._version).folder_names(
                rules, after=after, allow_4byte_utf8=allow_4byte_utf8
            )
        return sealed_folder_candidates(datetime.now(timezone.utc))  # fresh suffixes

    def description(self) -> bytes:
        return seal_bytes(description_bytes(self._report), self._description_key)

    def file(self, att: Attachment) -> WireFile:
        return SealedFile(self._vault, self._report.id, att)

    def manifest(
        self, *, folder_name: str, submitted_at: datetime, captured: Mapping[str, datetime | None]
    ) -> bytes:
        text = description_bytes(self._report)
        sealed_text = self.description()
        description = ManifestFile(
            name=SEALED_DESCRIPTION,
            original_name=READABLE_DESCRIPTION,
            size=len(text),
            sha256=hashlib.sha256(text).hexdigest(),
            ciphertext_size=len(sealed_text),
            ciphertext_sha256=hashlib.sha256(sealed_text).hexdigest(),
        )
        files = []
        for a in _ordered(self._report.attachments):
            body = self.file(a)
            files.append(
                ManifestFile(
                    name=a.remote_name or "",
                    original_name=a.name,
                    size=a.size,
                    sha256=a.sha256,
                    mime=a.mime,
                    captured_at=captured.get(a.file_id),
                    ciphertext_size=body.size,
                    ciphertext_sha256=body.sha256,
                )
            )
        plain = build_sealed_manifest(
            ReportManifest(
                sealed=True,
                tellakit_version=self._version,
                title=self._report.title,
                folder=folder_name,
                created_at=self._report.created_at,
                submitted_at=submitted_at,
                description=description,
                files=tuple(files),
                report_id=self._report.id,
            )
        )
        # A fresh key every time: this plaintext (submitted_at) is never the same twice.
        return seal_bytes(plain, new_sealed_file(self._recipients))
