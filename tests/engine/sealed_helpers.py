"""Helpers for the sealed-layout engine tests: the organization's key, and what a sealed report
folder on the development server must hold."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import PASSPHRASE

from tellakit.reports import FileState, Report, Status
from tellakit.sealed import (
    SEALED_DESCRIPTION,
    SEALED_MANIFEST,
    SealedKey,
    SealedReader,
    attachment_name,
    is_sealed_folder_name,
    parse_manifest,
    seal_bytes,
)
from tellakit.vault import age

AGE = shutil.which("age")
BLOCK = 1024 * 1024
#: For the tests whose point is that stock age opens what lands (elsewhere tellakit's own
#: reader stands in when age is missing).
needs_stock_age = pytest.mark.skipif(
    AGE is None, reason="stock age not installed (apt install age)"
)


@dataclass
class Organization:
    """The organization's identity, also as a key file stock ``age -d -i`` reads."""

    identity: age.X25519Identity
    key_file: Path

    @property
    def recipient(self) -> str:
        return str(self.identity.recipient())


def organization(folder: Path) -> Organization:
    identity = age.X25519Identity.generate()
    key_file = folder / "org.key"
    key_file.write_text(f"{identity}\n")
    key_file.chmod(0o600)
    return Organization(identity, key_file)


@contextmanager
def sealed_connection(base: Path, root: str) -> Iterator[tuple[Any, Organization, Any]]:
    """A development server, an organization and a vault connected to the server with
    ``encrypt_to`` that organization: (server, organization, vault); all stopped at the end."""
    pytest.importorskip("wsgidav", reason="tellakit[devserver] extra not installed")
    from tellakit.devserver import DevServer
    from tellakit.engine import connect
    from tellakit.vault import create_vault

    server = DevServer(base / "server", users={"alice": "secret"}).start()
    try:
        org = organization(base)
        vault = create_vault(base / "vault", PASSPHRASE, work_factor=10)
        try:
            connect(vault, server.url, "alice", "secret", root, encrypt_to=[org.recipient])
            yield server, org, vault
        finally:
            if not vault.locked:
                vault.close()
    finally:
        server.stop()


def decrypt(org: Organization, path: Path) -> bytes:
    """The plaintext of a (small) sealed file: by stock ``age`` when installed, else by
    tellakit's own reader."""
    return b"".join(_plaintext_blocks(org, path))


def decrypted_sha256(org: Organization, path: Path) -> str:
    """SHA-256 of a sealed file's plaintext, streamed (constant memory, any size)."""
    digest = hashlib.sha256()
    for block in _plaintext_blocks(org, path):
        digest.update(block)
    return digest.hexdigest()


def _plaintext_blocks(org: Organization, path: Path) -> Iterator[bytes]:
    if AGE is None:
        with path.open("rb") as f:
            yield from age.iter_decrypt_file(f, [org.identity])
        return
    cmd = [AGE, "-d", "-i", str(org.key_file), str(path)]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        yield from iter(lambda: proc.stdout.read(BLOCK), b"")  # type: ignore[union-attr]
        error = proc.stderr.read() if proc.stderr else b""
    assert proc.returncode == 0, f"age -d {path.name}: {error.decode(errors='replace')}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def same_bytes(path: Path, reader: Any) -> bool:
    """True when the file holds exactly what ``reader`` gives, compared block by block."""
    with path.open("rb") as f:
        while True:
            ours, theirs = f.read(BLOCK), reader.read(BLOCK)
            if ours != theirs:
                return False
            if not ours:
                return True


@dataclass
class StoredKeys:
    """The sealing keys of a report as its vault holds them (captured before a resume)."""

    description: str | None
    files: dict[str, str | None]  # attachment id -> SealedKey.dumps()


def stored_keys(report: Report) -> StoredKeys:
    return StoredKeys(report.description_key, {a.id: a.sealed_key for a in report.attachments})


def _open_at(vault: Any, file_id: str, offset: int) -> Any:
    reader = vault.open_file(file_id)
    reader.seek(offset)
    return reader


def sealed_under(vault: Any, file_id: str, size: int, key_text: str) -> SealedReader:
    """A reader of the age file one uninterrupted upload with this stored key and header
    sends."""
    return SealedReader(partial(_open_at, vault, file_id), SealedKey.loads(key_text), size)


def check_sealed_report(
    vault: Any,
    root: Path,
    report: Report,
    org: Organization,
    *,
    keys: StoredKeys | None = None,
    readable_folder: str | None = None,
) -> dict[str, Any]:
    """Everything a submitted sealed report must be on the server; returns its manifest.

    The folder holds exactly ``1.age`` .. ``n.age``, ``description.txt.age`` and
    ``manifest.json.age``; each decrypts (stock age) to the vault's plaintext; the manifest
    maps them back and gives the SHA-256 of every server file; the vault kept those
    SHA-256s and dropped the keys. With ``keys`` (what the vault held mid-way), every file
    is byte-identical to what one uninterrupted upload under those keys sends.
    """
    assert report.status is Status.SUBMITTED, report.reason
    assert report.sealed and report.remote_folder
    folder = root / report.remote_folder
    name = folder.name
    assert name == readable_folder if readable_folder else is_sealed_folder_name(name), name
    atts = sorted(report.attachments, key=lambda a: a.position)
    names = [attachment_name(n) for n in range(1, len(atts) + 1)]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [*names, SEALED_DESCRIPTION, SEALED_MANIFEST]
    )
    manifest = parse_manifest(decrypt(org, folder / SEALED_MANIFEST))
    assert manifest.sealed and manifest.report_id == report.id
    assert (manifest.title, manifest.folder) == (report.title, name)
    description = decrypt(org, folder / SEALED_DESCRIPTION)
    assert description == report.description.encode()
    desc_bytes = (folder / SEALED_DESCRIPTION).read_bytes()
    assert manifest.description.ciphertext_sha256 == hashlib.sha256(desc_bytes).hexdigest()
    if keys is not None and keys.description is not None:
        assert desc_bytes == seal_bytes(description, SealedKey.loads(keys.description))
    for att, server_name, entry in zip(atts, names, manifest.files, strict=True):
        path = folder / server_name
        wire_sha = file_sha256(path)
        assert att.remote_name == server_name and entry.name == server_name
        assert (entry.original_name, entry.mime, entry.size) == (att.name, att.mime, att.size)
        assert entry.sha256 == att.sha256
        size = path.stat().st_size
        assert (entry.ciphertext_size, entry.ciphertext_sha256) == (size, wire_sha)
        assert decrypted_sha256(org, path) == att.sha256, att.name
        assert att.state is FileState.VERIFIED
        assert att.sealed_sha256 == wire_sha and att.checksum == f"SHA256:{wire_sha}"
        assert att.sealed_key is None  # dropped once the report was submitted
        if keys is not None and keys.files.get(att.id) is not None:
            key_text = keys.files[att.id]
            assert key_text is not None
            with sealed_under(vault, att.file_id, att.size, key_text) as reader:
                assert same_bytes(path, reader), att.name
    assert report.description_key is None
    return {"manifest": manifest, "folder": folder}


def recording_factory(seen: list[tuple[str, str, dict[str, str]]]) -> Any:
    """A client factory whose clients note (method, url, headers) of every request."""
    from tellakit.engine import client_for

    def factory(settings: Any) -> Any:
        client = client_for(settings)
        original = client.session.request

        def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            seen.append((method, url, dict(kwargs.get("headers") or {})))
            return original(method, url, *args, **kwargs)

        client.session.request = request
        return client

    return factory
