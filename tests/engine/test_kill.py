"""kill -9 at random points of a submission: the reopened vault shows the report in the
outbox (or submitted), and resume completes it with nothing lost or duplicated."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import BULK, PASSPHRASE, MiB, check_submitted, random_bytes, submit_and_kill

from tellakit.engine import Submitter, connect
from tellakit.engine.monitor import STOPPED_DURING_UPLOAD
from tellakit.reports import Status
from tellakit.vault import create_vault, open_vault

pytestmark = pytest.mark.timeout(120)
ROOT = "K"
FILES = {
    "tiny.bin": random_bytes(300 * 1024, 21),
    "small.bin": random_bytes(700 * 1024, 23),
    "big.bin": random_bytes(11 * MiB, 22),
}
# Requests of one submission: capabilities, MKCOL root, MKCOL folder, POST bulk (description
# and tiny), PATCH description, PATCH tiny (what bulk stores is verified by the server's
# recalculation), PUT small, MKCOL upload, PUT chunk 1, PUT chunk 2, MOVE, PUT manifest (the
# PUT and the MOVE answer the server's SHA-256, so they need no request of their own).
REQUESTS = 12


@dataclass
class Env:
    server: Any
    vault_path: Path
    file_ids: list[str]
    shas: dict[str, str]
    submitted: dict[str, list[str]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    pytest.importorskip("wsgidav", reason="tellakit[devserver] extra not installed")
    from tellakit.devserver import DevServer

    base = tmp_path_factory.mktemp("kill")
    server = DevServer(base / "server", users={"alice": "secret"}).start()
    vault = create_vault(base / "vault", PASSPHRASE, work_factor=10)
    try:
        connect(vault, server.url, "alice", "secret", ROOT)
        files = [vault.import_bytes(data, name) for name, data in FILES.items()]
        ids, shas = [f.id for f in files], {f.name: f.sha256 for f in files}
    finally:
        vault.close()
    try:
        yield Env(server, base / "vault", ids, shas)
    finally:
        server.stop()


def _kill_points() -> list[tuple[int, str]]:
    rng = random.Random(9)
    points = [(rng.randint(1, REQUESTS), rng.choice(["before", "mid", "after"])) for _ in range(10)]
    # Plus the subtle ones, always: the server did it, the index never heard of it.
    return [
        *points,
        (3, "after"),
        (4, "after"),
        (4, "mid"),
        (7, "after"),
        (9, "after"),
        (11, "after"),
    ]


@pytest.mark.parametrize(("k", "mode"), _kill_points())
def test_sigkill_then_resume(env: Env, k: int, mode: str) -> None:
    report_id = submit_and_kill(env.vault_path, f"kill {k} {mode}", env.file_ids, k, mode)
    vault = open_vault(env.vault_path, PASSPHRASE)
    try:
        with Submitter(vault, tuning=BULK) as sub:
            found = vault.get_report(report_id)
            if found.status is not Status.SUBMITTED:
                # Shown in the outbox, resumable, with the reason.
                assert found.status is Status.INTERRUPTED
                assert found.reason == STOPPED_DURING_UPLOAD and found.retryable is True
                sub.resume(report_id)
                assert sub.wait(report_id, timeout=60)
        done = vault.get_report(report_id)
    finally:
        vault.close()
    assert done.status is Status.SUBMITTED, done.reason
    check_submitted(Path(env.server.files_root("alice")), done, env.shas, env.submitted)
