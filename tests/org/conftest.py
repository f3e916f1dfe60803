"""The organization's side against the development server: a field vault that submits through
the real engine (sealed to the organization, or readable), and an organization identity."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tellakit import org, sealed
from tellakit.engine import Submitter, connect
from tellakit.reports import Status
from tellakit.vault import Vault, age, create_vault

USER = "alice"
PASSWORD = "secret"
ROOT = "Tella"
AGE = shutil.which("age")


def content(label: str, size: int) -> bytes:
    """Deterministic bytes that start with a marker naming the report and file."""
    marker = f"MARKER<{label}>".encode()
    return (marker + hashlib.shake_256(marker).digest(max(0, size - len(marker))))[:size]


@dataclass
class Submitted:
    """One report as the field submitted it: what the organization should get back."""

    title: str
    description: str
    files: dict[str, bytes]  # original name -> content (later duplicates numbered)
    folder: str = ""  # path on the server, below the user's files root
    sealed: bool = True


@dataclass
class Field:
    """A field vault connected to the development server."""

    vault: Vault
    server: Any
    reports: list[Submitted] = field(default_factory=list)

    @property
    def files_root(self) -> Path:
        return Path(self.server.files_root(USER))

    def submit(
        self,
        title: str,
        files: dict[str, bytes],
        *,
        description: str = "",
        encrypt_to: list[str] | None = None,
        readable_names: bool = False,
    ) -> Submitted:
        """Sealed to ``encrypt_to``, or readable: the connection says so when it is queued."""
        ids = [self.vault.import_bytes(data, name).id for name, data in files.items()]
        report = self.vault.create_report(title, description or f"About {title}.", ids)
        done = Submitted(title, report.description, files, sealed=bool(encrypt_to))
        sealed.set_encrypt_to(self.vault, encrypt_to or [], readable_names=readable_names)
        with Submitter.shared(self.vault) as submitter:
            submitter.submit(report.id)
            submitter.wait(report.id)
        submitted = self.vault.get_report(report.id)
        assert submitted.status is Status.SUBMITTED, submitted.reason
        assert submitted.sealed is done.sealed
        done.folder = str(submitted.remote_folder)
        self.reports.append(done)
        return done


@pytest.fixture
def field_vault(devserver, tmp_path: Path) -> Iterator[Field]:
    vault = create_vault(tmp_path / "field-vault", "field passphrase", work_factor=10)
    connect(vault, devserver.url, USER, PASSWORD, ROOT)
    yield Field(vault, devserver)
    vault.close()


@dataclass
class Organization:
    key_file: Path  # unencrypted, so stock age reads it without a terminal
    identity: age.X25519Identity

    @property
    def recipient(self) -> str:
        return str(self.identity.recipient())


@pytest.fixture
def organization(tmp_path: Path) -> Organization:
    key_file = tmp_path / "org.key"
    org.keygen(key_file, None)
    identities = org.load_identities(key_file)
    assert isinstance(identities[0], age.X25519Identity)
    return Organization(key_file, identities[0])


def stock_age_decrypts(key_file: Path, path: Path) -> bytes:
    assert AGE is not None
    return subprocess.run(
        [AGE, "-d", "-i", str(key_file), str(path)], check=True, capture_output=True
    ).stdout


def server_snapshot(root: Path) -> dict[str, str]:
    """Every file below ``root``: relative path -> SHA-256."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
