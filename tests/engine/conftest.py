"""Fixtures for engine tests: a small-KDF vault connected to the development server.

Sizes are shrunk through ``Tuning`` so chunked uploads use 64 KiB chunks and the fault matrix
stays fast; the code paths are the production ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tellakit.engine import Submitter, Tuning, connect
from tellakit.vault import create_vault

KiB = 1024
PASSPHRASE = "correct horse battery staple"
SMALL = Tuning(
    single_put_limit=128 * KiB,
    initial_chunk=64 * KiB,
    min_chunk=64 * KiB,
    max_chunk=256 * KiB,
    target_seconds=0.5,
)


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
