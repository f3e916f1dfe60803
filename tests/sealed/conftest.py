"""Fixtures for the sealed-layout tests: a small vault (fast scrypt), the CCTV vectors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tellakit.vault import Vault, create_vault

FAST_WORK_FACTOR = 10  # tests only; real vaults use 18


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    v = create_vault(tmp_path / "vault", "sealed tests", work_factor=FAST_WORK_FACTOR)
    yield v
    v.close()
