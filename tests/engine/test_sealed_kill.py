"""kill -9 of a process submitting a sealed report, mid-file and at the subtle points: the
resumed upload ends verified, and every file on the server is byte-identical to what one
uninterrupted upload under the header and key the vault stored would have sent."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import BULK, PASSPHRASE, MiB, random_bytes, submit_and_kill
from sealed_helpers import Organization, check_sealed_report, sealed_connection, stored_keys

from tellakit.engine import Submitter
from tellakit.reports import Status
from tellakit.vault import open_vault

pytestmark = pytest.mark.timeout(120)
ROOT = "SK"
FILES = {"small.bin": random_bytes(300 * 1024, 41), "big.bin": random_bytes(11 * MiB, 42)}
# Requests of one sealed submission, as in test_kill (the child offers bulk upload):
# capabilities, MKCOL root, MKCOL folder, POST bulk (description.txt.age and 1.age), PATCH
# 1.age, PATCH description.txt.age (the server's recalculated SHA-256 of each, compared with
# the ciphertext's), MKCOL upload, PUT chunk 1, PUT chunk 2, MOVE, PUT manifest.json.age.
BULK_POST, CHUNK_1, CHUNK_2, MOVE, REQUESTS = 4, 8, 9, 10, 11


@dataclass
class Env:
    server: Any
    vault_path: Path
    org: Organization
    file_ids: list[str]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    base = tmp_path_factory.mktemp("sealed-kill")
    with sealed_connection(base, ROOT) as (server, org, vault):
        ids = [vault.import_bytes(data, name).id for name, data in FILES.items()]
        vault.close()  # the child and each test open it in turn
        yield Env(server, base / "vault", org, ids)


def _kill_points() -> list[tuple[int, str]]:
    rng = random.Random(13)
    # Mid-file: in the bulk request and in each chunk; after: the server did it (folder made,
    # description and small file stored in bulk, MOVE done) but the index never heard of it;
    # plus two seeded ones.
    fixed = [(BULK_POST, "mid"), (CHUNK_1, "mid"), (CHUNK_2, "mid"), (3, "after")]
    fixed += [(BULK_POST, "after"), (MOVE, "after")]
    return fixed + [
        (rng.randint(2, REQUESTS), rng.choice(["before", "mid", "after"])) for _ in range(2)
    ]


@pytest.mark.parametrize(("k", "mode"), _kill_points())
def test_sigkill_then_resume_sends_the_same_bytes(env: Env, k: int, mode: str) -> None:
    report_id = submit_and_kill(env.vault_path, f"sealed kill {k} {mode}", env.file_ids, k, mode)
    vault = open_vault(env.vault_path, PASSPHRASE)
    try:
        found = vault.get_report(report_id)
        keys = stored_keys(found)  # what the killed process left in the index
        assert found.sealed_to == (env.org.recipient,)
        if found.status is not Status.SUBMITTED:
            assert keys.description and all(keys.files.values())  # stored before any byte
            with Submitter(vault, tuning=BULK) as sub:
                sub.resume(report_id)
                assert sub.wait(report_id, timeout=60)
        done = vault.get_report(report_id)
        root = Path(env.server.files_root("alice"))
        check_sealed_report(vault, root, done, env.org, keys=keys)
        # No extra or empty folder: the root holds exactly the folders of the reports so far.
        recorded = {r.remote_folder for r in vault.list_reports()}
        assert {f"{ROOT}/{p.name}" for p in (root / ROOT).iterdir()} == recorded
    finally:
        vault.close()
