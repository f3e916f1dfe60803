"""The fault matrix: every injected failure ends, after resume, submitted with matching hashes
or in the outbox with its reason; never a lost file, a second copy, or an extra/empty folder.

Each report holds a tiny file (sent in a bulk request with the description, then verified by
the server's recalculation), a small one (one PUT) and a big one (chunked), so every kind of
request the engine makes is in the matrix.

One dev server, one vault and one connection serve the whole module (each case is its own
report in its own folder), so the matrix stays fast; after every case the whole root folder
is checked against the reports submitted so far.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import BULK, PASSPHRASE, MiB, check_submitted, random_bytes

from tellakit.engine import Submitter, connect
from tellakit.reports import Status
from tellakit.vault import create_vault

pytestmark = pytest.mark.timeout(120)
ROOT = "M"
TINY_SIZE = 200 * 1024  # in the bulk request, after the description
SMALL_SIZE = 700 * 1024  # one PUT
BIG_SIZE = 10 * MiB + 512 * 1024  # chunked: 5 MiB + 5.5 MiB
CHUNK = 5 * MiB


@dataclass
class Env:
    server: Any
    vault: Any
    submitter: Submitter
    file_ids: list[str]
    shas: dict[str, str]
    submitted: dict[str, list[str]] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return Path(self.server.files_root("alice"))

    def run_case(self, title: str) -> Any:
        """Submit a fresh report with the faults in place; return it once the worker is idle."""
        report = self.vault.create_report(title, f"case {title}", self.file_ids)
        self.server.log.clear()
        self.submitter.submit(report.id)
        assert self.submitter.wait(report.id, timeout=60)
        return self.vault.get_report(report.id)

    def resume_and_check(self, report: Any) -> Any:
        """Clear faults, resume if needed, and check the whole root folder."""
        self.server.faults.clear()
        if report.status is not Status.SUBMITTED:
            assert report.status in (Status.INTERRUPTED, Status.PAUSED)
            self.submitter.resume(report.id)
            assert self.submitter.wait(report.id, timeout=60)
        done = self.vault.get_report(report.id)
        assert done.status is Status.SUBMITTED, done.reason
        check_submitted(self.root, done, self.shas, self.submitted)
        return done


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    pytest.importorskip("wsgidav", reason="tellakit[devserver] extra not installed")
    from tellakit.devserver import DevServer

    base = tmp_path_factory.mktemp("faults")
    server = DevServer(base / "server", users={"alice": "secret"}).start()
    vault = create_vault(base / "vault", PASSPHRASE, work_factor=10)
    connect(vault, server.url, "alice", "secret", ROOT)
    files = [
        vault.import_bytes(random_bytes(TINY_SIZE, 10), "tiny.bin"),
        vault.import_bytes(random_bytes(SMALL_SIZE, 11), "small.bin"),
        vault.import_bytes(random_bytes(BIG_SIZE, 12), "big.bin"),
    ]
    submitter = Submitter(vault, tuning=BULK)
    try:
        yield Env(
            server, vault, submitter, [f.id for f in files], {f.name: f.sha256 for f in files}
        )
    finally:
        submitter.close()
        vault.close()
        server.stop()


# Each kind of request the engine makes, as (method, path regex) for the fault injector.
# (This server answers every PUT and MOVE with its SHA-256, so only the files of the bulk
# request need a verification request; those of other servers are in test_profiles.py.)
KINDS = {
    "MKCOL-folder": ("MKCOL", rf"/files/alice/{ROOT}/[^/]+$"),
    "MKCOL-upload": ("MKCOL", r"/uploads/"),
    "POST-bulk": ("POST", r"/dav/bulk$"),
    "PATCH-verify": ("PATCH", r"/tiny\.bin$"),
    "PUT-file": ("PUT", r"/small\.bin$"),
    "PUT-chunk": ("PUT", r"/uploads/.+/00002$"),
    "MOVE": ("MOVE", r"/uploads/"),
}
STATUSES = {500: True, 502: True, 503: True, 507: False, 401: False, 423: True, 429: True}


@pytest.mark.parametrize("status", list(STATUSES))
@pytest.mark.parametrize("kind", list(KINDS))
def test_status_injected_on_each_kind_of_request(env: Env, kind: str, status: int) -> None:
    method, path = KINDS[kind]
    # 423 is retried in place a few times; keep answering it so it reaches the outbox.
    times = 10 if status == 423 else 1
    env.server.faults.respond(status, method=method, path=path, times=times)
    report = env.run_case(f"{kind} {status}")
    hit = [r for r in env.server.log.filter(method) if r.status == status]
    assert hit, f"the fault never fired for {kind}"
    assert report.status is Status.INTERRUPTED
    assert report.reason and str(status) in report.reason
    assert report.retryable is STATUSES[status]
    env.resume_and_check(report)


def _cut_cases() -> list[tuple[str, int]]:
    rng = random.Random(20261128)
    cases = [("tiny", rng.randrange(0, TINY_SIZE)) for _ in range(6)]
    cases += [("small", rng.randrange(0, SMALL_SIZE)) for _ in range(6)]
    cases += [("big", rng.randrange(0, BIG_SIZE)) for _ in range(18)]
    return cases


@pytest.mark.parametrize(("which", "offset"), _cut_cases())
def test_connection_cut_at_random_offset(env: Env, which: str, offset: int) -> None:
    if which == "tiny":
        # The bulk body: the description's part, then the tiny file's (offset into it).
        env.server.faults.cut_after(offset, method="POST", path=r"/dav/bulk$")
        chunk = None
    elif which == "small":
        env.server.faults.cut_after(offset, method="PUT", path=r"/small\.bin$")
        chunk = None
    else:
        chunk = min(offset // CHUNK, 1) + 1  # the tail is folded into the last chunk
        env.server.faults.cut_after(
            offset - (chunk - 1) * CHUNK, method="PUT", path=rf"/uploads/.+/0000{chunk}$"
        )
    report = env.run_case(f"cut {which} {offset}")
    assert report.status is Status.INTERRUPTED, report.reason
    assert report.retryable is True and report.reason
    first_run = env.server.log.snapshot()
    env.server.log.clear()
    env.resume_and_check(report)
    if chunk is not None:
        # Resume re-sends at most the one chunk that was in flight.
        before = [r for r in first_run if r.method == "PUT" and "/uploads/" in r.path]
        after = [r for r in env.server.log.filter("PUT", "/uploads/") if r.status != 423]
        done_before = {r.path.rsplit("/", 1)[1] for r in before if r.status in (201, 204)}
        sent_after = [r.path.rsplit("/", 1)[1] for r in after]
        assert not done_before & set(sent_after), (done_before, sent_after)
        assert sent_after[0] == f"0000{chunk}"
        assert len(sent_after) == 2 - len(done_before)


@pytest.mark.parametrize("status", list(STATUSES))
def test_status_injected_on_the_resume_listing_of_an_upload(env: Env, status: int) -> None:
    # First a cut in the second chunk, so the next run must list the upload folder.
    env.server.faults.cut_after(1000, method="PUT", path=r"/uploads/.+/00002$")
    report = env.run_case(f"PROPFIND-upload {status}")
    assert report.status is Status.INTERRUPTED and report.retryable is True
    env.server.faults.clear()
    env.server.faults.respond(status, method="PROPFIND", path=r"/uploads/", times=10)
    env.server.log.clear()
    env.submitter.resume(report.id)
    assert env.submitter.wait(report.id, timeout=60)
    report = env.vault.get_report(report.id)
    assert [r for r in env.server.log.filter("PROPFIND", "/uploads/") if r.status == status]
    assert report.status is Status.INTERRUPTED
    assert report.reason and str(status) in report.reason
    assert report.retryable is STATUSES[status]
    env.resume_and_check(report)
