"""Fixtures for engine tests: a small-KDF vault connected to the development server.

Sizes are shrunk through ``Tuning``: files from 1 MiB go chunked, in fixed 5 MiB chunks (the
smallest Nextcloud's chunked upload v2 allows, which the dev server enforces), so the fault
matrix stays fast; the code paths are the production ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import PASSPHRASE, SMALL

from tellakit.engine import Submitter, connect
from tellakit.vault import create_vault


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Any]:
    """A fresh vault (cheap scrypt)."""
    v = create_vault(tmp_path / "vault", PASSPHRASE, work_factor=10)
    try:
        yield v
    finally:
        if not v.locked:
            v.close()


@pytest.fixture
def connected(vault: Any, devserver: Any) -> Any:
    """The vault connected to the fresh dev server as alice, root folder "Tella"."""
    connect(vault, devserver.url, "alice", "secret", "Tella")
    return vault


@pytest.fixture
def submitter(connected: Any) -> Iterator[Submitter]:
    """A Submitter with small test sizes."""
    s = Submitter(connected, tuning=SMALL)
    try:
        yield s
    finally:
        s.close()
