"""Fixtures for the vault tests: small scrypt work factors keep unlocking fast."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tellakit.vault import Vault, create_vault

PASSPHRASE = "correct horse battery staple"
FAST_WORK_FACTOR = 10  # tests only; real vaults use 18


@pytest.fixture
def vault_path(tmp_path: Path) -> Path:
    return tmp_path / "vault"


@pytest.fixture
def vault(vault_path: Path) -> Iterator[Vault]:
    v = create_vault(vault_path, PASSPHRASE, work_factor=FAST_WORK_FACTOR)
    yield v
    v.close()
