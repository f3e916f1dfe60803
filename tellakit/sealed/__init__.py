"""Sealed submissions: report folders the Nextcloud host cannot read.

Pure (no I/O beyond the plaintext source it is handed): the layout's names, the sealed
manifest, the per-file ``SealedKey`` and the seekable encrypting ``SealedReader`` the engine
streams uploads from, recipients and their fingerprints, and the encryption settings of a
vault's connection. Imports only ``tellakit.errors`` and ``tellakit.vault.age``.
"""

from __future__ import annotations

from tellakit.sealed.key import SealedKey, chunk_count, new_sealed_file
from tellakit.sealed.layout import (
    READABLE_DESCRIPTION,
    READABLE_MANIFEST,
    SEALED_DESCRIPTION,
    SEALED_MANIFEST,
    Layout,
    attachment_name,
    attachment_number,
    is_sealed_folder_name,
    layout_of,
    sealed_folder_candidates,
    sealed_folder_name,
)
from tellakit.sealed.manifest import (
    ManifestFile,
    ReportManifest,
    build_sealed_manifest,
    parse_manifest,
)
from tellakit.sealed.reader import SealedReader, memory_reader, seal_bytes, sealed_sha256
from tellakit.sealed.recipients import (
    Recipient,
    fingerprint,
    looks_secret,
    parse_recipient,
    parse_recipients,
)
from tellakit.sealed.settings import describe_encryption, set_encrypt_to

__all__ = [
    "READABLE_DESCRIPTION",
    "READABLE_MANIFEST",
    "SEALED_DESCRIPTION",
    "SEALED_MANIFEST",
    "Layout",
    "ManifestFile",
    "Recipient",
    "ReportManifest",
    "SealedKey",
    "SealedReader",
    "attachment_name",
    "attachment_number",
    "build_sealed_manifest",
    "chunk_count",
    "describe_encryption",
    "fingerprint",
    "is_sealed_folder_name",
    "layout_of",
    "looks_secret",
    "memory_reader",
    "new_sealed_file",
    "parse_manifest",
    "parse_recipient",
    "parse_recipients",
    "seal_bytes",
    "sealed_folder_candidates",
    "sealed_folder_name",
    "sealed_sha256",
    "set_encrypt_to",
]
