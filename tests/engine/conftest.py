"""Fixtures for engine tests: a small-KDF vault connected to the development server.

Sizes are shrunk through ``Tuning``: files from 1 MiB go chunked, in fixed 5 MiB chunks (the
smallest Nextcloud's chunked upload v2 allows, which the dev server enforces), so the fault
matrix stays fast; the code paths are the production ones.

``target`` / ``connected_target``: the end-to-end tests that also run against a real Nextcloud
when one is given (targets.py, docs/testing.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import PASSPHRASE, SMALL
from targets import NO_SERVER, RealNextcloud, Target, real_nextcloud_session

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


@pytest.fixture(scope="session")
def _real_nextcloud() -> Iterator[RealNextcloud | None]:
    yield from real_nextcloud_session()


@pytest.fixture(params=["devserver", "nextcloud"])
def target(request: pytest.FixtureRequest, _real_nextcloud: RealNextcloud | None) -> Target:
    """A fresh development server, then the real Nextcloud of the environment (or a skip)."""
    if request.param == "devserver":
        srv = request.getfixturevalue("devserver")
        return Target("devserver", srv.url, "alice", "secret", "Tella", devserver=srv)
    if _real_nextcloud is None:
        pytest.skip(NO_SERVER)
    return _real_nextcloud.target()


@pytest.fixture
def connected_target(vault: Any, target: Target) -> Any:
    """The vault connected to ``target``, with its root folder."""
    connect(vault, target.url, target.user, target.password, target.root)
    return vault
