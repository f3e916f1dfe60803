"""A stand-in for the field side: submit one vault report in the sealed layout.

The engine does not encrypt uploads yet; until it does, tests and notebook 04 produce sealed
report folders with ``submit_sealed``, which follows the engine contract exactly (see
docs/server-layout.md, "The sealed layout"): a fresh ``SealedKey`` per file, the ciphertext
streamed from ``SealedReader`` over the vault's decrypting reader, the server's ``X-Hash``
compared with the SHA-256 of the ciphertext, no plaintext checksum and no capture time in
request headers, the manifest last. It is simpler than the engine in what does not change
the bytes on the server: one PUT per file (no chunking, no resume, no pause) and no state
kept in the vault. Replace it with ``Submitter(vault).submit(report_id)`` once the engine
seals reports of a connection with ``encrypt_to``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from functools import partial
from typing import Any

import tellakit
from tellakit.errors import ConnectionSettingsError, NoConnection, VerificationFailed
from tellakit.nextcloud import Credentials, NextcloudClient
from tellakit.nextcloud.names import unique_candidates
from tellakit.sealed import (
    SEALED_DESCRIPTION,
    SEALED_MANIFEST,
    ManifestFile,
    ReportManifest,
    SealedReader,
    attachment_name,
    build_sealed_manifest,
    memory_reader,
    new_sealed_file,
    parse_recipients,
    sealed_folder_candidates,
)
from tellakit.sealed.layout import READABLE_DESCRIPTION


def _open_at(vault: Any, file_id: str, offset: int) -> Any:
    reader = vault.open_file(file_id, check_sha256=False)
    reader.seek(offset)
    return reader


def _put_checked(client: NextcloudClient, path: str, reader: SealedReader) -> str:
    """PUT the sealed file; compare the server's SHA-256 with the ciphertext's; return it."""
    result = client.put(path, reader, reader.size)
    digest = reader.sha256_hex()
    server = result.hashes.get("sha256")
    if digest is None or server != digest:
        raise VerificationFailed(
            f"{path}: the server's SHA-256 of the sealed file does not match what was sent."
        )
    return digest


def submit_sealed(vault: Any, report_id: str, *, when: datetime | None = None) -> str:
    """Upload the report in the sealed layout to the vault's connection; its folder path.

    The connection must have ``encrypt_to`` (``tellakit.set_encrypt_to``). The report's
    state in the vault is not changed.
    """
    settings = vault.get_connection()
    if settings is None:
        raise NoConnection("This vault has no Nextcloud connection.")
    if not settings.encrypt_to:
        raise ConnectionSettingsError(
            "The connection has no encrypt_to recipients; set them with set_encrypt_to."
        )
    recipients = parse_recipients(settings.encrypt_to)
    report = vault.get_report(report_id)
    now = when or datetime.now(timezone.utc)
    creds = Credentials(
        settings.server_url, settings.login, settings.password, settings.allow_insecure_http
    )
    with NextcloudClient(creds, user_id=settings.user_id) as client:
        names = (
            unique_candidates(report.title)
            if settings.readable_names
            else sealed_folder_candidates(now)
        )
        folder = next(n for n in names if client.mkcol(f"{settings.root_folder}/{n}"))
        base = f"{settings.root_folder}/{folder}"

        text = report.description.encode("utf-8")
        sealed_text = memory_reader(text, new_sealed_file(recipients))
        description = ManifestFile(
            name=SEALED_DESCRIPTION,
            original_name=READABLE_DESCRIPTION,
            size=len(text),
            sha256=hashlib.sha256(text).hexdigest(),
            ciphertext_size=sealed_text.size,
            ciphertext_sha256=_put_checked(client, f"{base}/{SEALED_DESCRIPTION}", sealed_text),
        )
        files = []
        ordered = sorted(report.attachments, key=lambda a: a.position)
        for number, a in enumerate(ordered, start=1):
            reader = SealedReader(
                partial(_open_at, vault, a.file_id), new_sealed_file(recipients), a.size
            )
            with reader:
                digest = _put_checked(client, f"{base}/{attachment_name(number)}", reader)
            files.append(
                ManifestFile(
                    name=attachment_name(number),
                    original_name=a.name,
                    size=a.size,
                    sha256=a.sha256,
                    mime=a.mime,
                    captured_at=vault.get_file(a.file_id).imported_at,
                    ciphertext_size=reader.size,
                    ciphertext_sha256=digest,
                )
            )
        manifest = ReportManifest(
            sealed=True,
            tellakit_version=tellakit.__version__,
            title=report.title,
            folder=folder,
            created_at=report.created_at,
            submitted_at=datetime.now(timezone.utc),
            description=description,
            files=tuple(files),
            report_id=report.id,
        )
        # A fresh key every time the manifest is built: its plaintext is never the same twice.
        plain = build_sealed_manifest(manifest)
        _put_checked(
            client, f"{base}/{SEALED_MANIFEST}", memory_reader(plain, new_sealed_file(recipients))
        )
    return base
