"""kill -9 at random points of a submission: the reopened vault shows the report in the
outbox (or submitted), and resume completes it with nothing lost or duplicated."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import (
    BULK,
    PASSPHRASE,
    MiB,
    check_submitted,
    file_sha256,
    random_bytes,
    submit_and_kill,
    wait_for,
)

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


#: The report as the reopened vault found it, before the resume (report id -> report).
_at_kill: dict[str, Any] = {}


def _reopen_and_resume(env: Env, report_id: str) -> Any:
    """Open the vault as after a restart: the report is in the outbox with the reason (or
    submitted); resume it; it must end submitted."""
    vault = open_vault(env.vault_path, PASSPHRASE)
    try:
        with Submitter(vault, tuning=BULK) as sub:
            found = _at_kill[report_id] = vault.get_report(report_id)
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
    return done


@pytest.mark.parametrize(("k", "mode"), _kill_points())
def test_sigkill_then_resume(env: Env, k: int, mode: str) -> None:
    report_id = submit_and_kill(env.vault_path, f"kill {k} {mode}", env.file_ids, k, mode)
    done = _reopen_and_resume(env, report_id)
    check_submitted(Path(env.server.files_root("alice")), done, env.shas, env.submitted)


def test_a_kill_with_two_chunks_in_flight_re_sends_at_most_those_two(env: Env) -> None:
    # 16 MiB: chunks of 5, 5 and 6 MiB; the child sends two at a time and dies when chunks 1
    # and 2 have each sent half their body.
    big = random_bytes(16 * MiB, 23)
    vault = open_vault(env.vault_path, PASSPHRASE)
    f = vault.import_bytes(big, "two.bin")
    vault.close()
    env.server.log.clear()
    report_id = submit_and_kill(env.vault_path, "kill two in flight", [f.id], 0, "two")
    wait_for(lambda: len(env.server.log.filter("PUT", "/uploads/")) >= 2, 20)  # unwound
    first = env.server.log.filter("PUT", "/uploads/")
    assert {r.path.rsplit("/", 1)[1] for r in first} == {"00001", "00002"}  # chunk 3 not yet
    env.server.log.clear()
    done = _reopen_and_resume(env, report_id)
    recorded = json.loads(_at_kill[report_id].attachments[0].chunk_map or "{}")
    assert recorded["prefix"] == 0 and len(recorded["chunks"]) == 2  # both were in flight
    after = [r.path.rsplit("/", 1)[1] for r in env.server.log.filter("PUT", "/uploads/")]
    # Sent again: at most the two in flight (a body the kernel had wholly taken still reached
    # the server after the kill, and a resume finds it there), each once; then chunk 3.
    assert set(after) <= {"00001", "00002", "00003"} and after.count("00003") == 1
    assert after.count("00001") <= 1 and after.count("00002") <= 1
    puts = [*first, *env.server.log.filter("PUT", "/uploads/")]
    stored = [r.path.rsplit("/", 1)[1] for r in puts if r.status == 201]
    assert sorted(stored) == ["00001", "00002", "00003"]  # each chunk stored exactly once
    tree = Path(env.server.files_root("alice")) / done.remote_folder
    assert file_sha256(tree / "two.bin") == f.sha256
