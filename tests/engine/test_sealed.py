"""Sealed reports through the real engine, against the development server: what lands is age
files that stock ``age -d`` opens, under names that say nothing; a report keeps the layout it
was queued with; cuts at seeded offsets and a flipped byte end, after resume, verified and
byte-identical to one uninterrupted upload under the stored keys."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import PASSPHRASE, SMALL, MiB, random_bytes, wait_for
from sealed_helpers import (
    Organization,
    check_sealed_report,
    needs_stock_age,
    recording_factory,
    sealed_connection,
    stored_keys,
)

from tellakit.engine import Submitter, connect, sealing
from tellakit.errors import ConnectionSettingsError
from tellakit.reports import FileState, Status
from tellakit.sealed import set_encrypt_to
from tellakit.vault import create_vault

pytestmark = pytest.mark.timeout(180)
ROOT = "S"
SMALL_SIZE = 300 * 1024  # one PUT
BIG_SIZE = 10 * MiB + 512 * 1024  # chunked: 5 MiB + the rest
CHUNK = 5 * MiB


@dataclass
class Env:
    server: Any
    vault: Any
    org: Organization
    submitter: Submitter
    file_ids: list[str]
    headers: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    @property
    def root(self) -> Path:
        return Path(self.server.files_root("alice"))

    def run(self, title: str, *, description: str = "") -> Any:
        report = self.vault.create_report(title, description or f"about {title}", self.file_ids)
        self.server.log.clear()
        self.submitter.submit(report.id)
        assert self.submitter.wait(report.id, timeout=90)
        return self.vault.get_report(report.id)

    def resume(self, report_id: str) -> Any:
        self.server.faults.clear()
        self.submitter.resume(report_id)
        assert self.submitter.wait(report_id, timeout=90)
        return self.vault.get_report(report_id)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with sealed_connection(tmp_path_factory.mktemp("sealed"), ROOT) as (server, org, vault):
        files = [
            vault.import_bytes(random_bytes(SMALL_SIZE, 31), "witness statement.pdf"),
            vault.import_bytes(random_bytes(BIG_SIZE, 32), "market fire.mp4"),
            vault.import_bytes(b"", "empty.txt"),
        ]
        headers: list[tuple[str, str, dict[str, str]]] = []
        with Submitter(vault, tuning=SMALL, client_factory=recording_factory(headers)) as sub:
            yield Env(server, vault, org, sub, [f.id for f in files], headers)


@needs_stock_age
def test_a_sealed_report_is_age_files_under_names_that_say_nothing(env: Env) -> None:
    env.headers.clear()
    report = env.run("Market fire: 12/03", description="Seen from the bridge at 14:00.")
    found = check_sealed_report(env.vault, env.root, report, env.org)
    assert found["folder"].parent == env.root / ROOT
    # What went over the wire says nothing either: no capture time, no plaintext checksum.
    plain_shas = {a.sha256 for a in report.attachments}
    for method, _url, headers in env.headers:
        assert "X-OC-MTime" not in headers, method
        checksum = headers.get("OC-Checksum", "").lower()
        assert not any(sha in checksum for sha in plain_shas), method
    urls = " ".join(url for _, url, _ in env.headers)
    for text in ("Market", "witness", "market", "empty.txt", "description.txt/", "manifest.json/"):
        assert text not in urls


def test_readable_names_keep_the_title_and_its_clash_number(env: Env) -> None:
    set_encrypt_to(env.vault, [env.org.recipient], readable_names=True)
    try:
        (env.root / ROOT / "Site visit").mkdir()  # taken: the report gets "Site visit (2)"
        report = env.run("Site visit")
    finally:
        set_encrypt_to(env.vault, [env.org.recipient], readable_names=False)
    check_sealed_report(env.vault, env.root, report, env.org, readable_folder="Site visit (2)")


def test_the_sealed_manifest_is_written_even_with_upload_manifest_off(env: Env) -> None:
    settings = env.vault.get_connection()
    env.vault.set_connection(type(settings)(**{**vars(settings), "upload_manifest": False}))
    try:
        report = env.run("no manifest asked")
    finally:
        env.vault.set_connection(settings)
    check_sealed_report(env.vault, env.root, report, env.org)


def test_a_report_keeps_the_layout_it_was_queued_with(env: Env) -> None:
    sealed_early = env.vault.create_report("queued sealed", "a", env.file_ids[:1])
    env.submitter.submit_later(sealed_early.id)
    set_encrypt_to(env.vault, [])
    try:
        readable = env.vault.create_report("queued readable", "b", env.file_ids[:1])
        env.submitter.submit_later(readable.id)
    finally:
        set_encrypt_to(env.vault, [env.org.recipient])
    for report_id in (sealed_early.id, readable.id):
        env.submitter.submit(report_id)
        assert env.submitter.wait(report_id, timeout=90)
    check_sealed_report(env.vault, env.root, env.vault.get_report(sealed_early.id), env.org)
    done = env.vault.get_report(readable.id)
    assert done.status is Status.SUBMITTED and not done.sealed
    folder = env.root / ROOT / "queued readable"
    names = {"witness statement.pdf", "description.txt", "manifest.json"}
    assert {p.name for p in folder.iterdir()} == names
    assert (folder / "witness statement.pdf").read_bytes() == random_bytes(SMALL_SIZE, 31)


def test_a_report_queued_before_connecting_is_sealed_when_it_first_runs(
    env: Env, tmp_path: Path
) -> None:
    vault = create_vault(tmp_path / "late", PASSPHRASE, work_factor=10)
    try:
        f = vault.import_bytes(b"queued with no connection", "note.txt")
        report = vault.create_report("queued unconnected", "c", [f.id])
        with Submitter(vault, tuning=SMALL) as sub:
            sub.submit_later(report.id)
        assert vault.get_report(report.id).sealed_to is None
        connect(vault, env.server.url, "alice", "secret", ROOT, encrypt_to=[env.org.recipient])
        with Submitter(vault, tuning=SMALL) as sub:
            sub.submit(report.id)
            assert sub.wait(report.id, timeout=60)
        done = vault.get_report(report.id)
        assert done.sealed_to == (env.org.recipient,)
        check_sealed_report(vault, env.root, done, env.org)
    finally:
        vault.close()


def test_a_recipient_that_no_longer_parses_stops_the_report_before_anything_is_sent(
    env: Env,
) -> None:
    report = env.vault.create_report("bad recipient", "d", env.file_ids[:1])
    env.vault.set_status(report.id, Status.QUEUED)
    env.vault.update_report_submission(report.id, sealed_to=("age1typo",))
    env.server.log.clear()
    env.submitter.submit(report.id)
    assert env.submitter.wait(report.id, timeout=30)
    stopped = env.vault.get_report(report.id)
    assert stopped.status is Status.INTERRUPTED and stopped.retryable is False
    assert "not a valid age recipient" in (stopped.reason or "")
    assert not env.server.log.filter("PUT") and not env.server.log.filter("MKCOL")
    with pytest.raises(ConnectionSettingsError):
        set_encrypt_to(env.vault, ["age1typo"])


def _cut_cases() -> list[tuple[str, int]]:
    rng = random.Random(20261202)
    return [("small", rng.randrange(0, SMALL_SIZE)) for _ in range(2)] + [
        ("big", rng.randrange(0, BIG_SIZE)) for _ in range(3)
    ]


@pytest.mark.parametrize(("which", "offset"), _cut_cases())
def test_a_cut_at_a_seeded_offset_resumes_to_the_same_bytes(
    env: Env, which: str, offset: int
) -> None:
    if which == "small":
        env.server.faults.cut_after(offset, method="PUT", path=r"/1\.age$")
    else:
        chunk = min(offset // CHUNK, 1) + 1  # the tail is folded into the last chunk
        path = rf"/uploads/.+/0000{chunk}$"
        env.server.faults.cut_after(offset - (chunk - 1) * CHUNK, method="PUT", path=path)
    report = env.run(f"cut {which} {offset}")
    assert report.status is Status.INTERRUPTED and report.retryable is True, report.reason
    keys = stored_keys(report)  # what the vault holds between the attempts
    assert keys.description and all(keys.files.values())
    done = env.resume(report.id)
    check_sealed_report(env.vault, env.root, done, env.org, keys=keys)


def test_a_flipped_byte_fails_verification_against_the_ciphertext_and_is_sent_again(
    env: Env,
) -> None:
    """The server's SHA-256 of what it stored is compared with the ciphertext's: a flipped
    byte is caught, the file sent again at once (same key, same bytes); flipped again, the
    report stops with the reason, and a resume sends the same bytes once more."""
    env.server.faults.flip_byte(1000, method="PUT", path=r"/1\.age$", times=2)
    report = env.run("flipped")
    assert report.status is Status.INTERRUPTED, report.reason
    assert "Verification failed" in (report.reason or "")
    first = report.attachments[0]
    assert first.resends == 1 and first.state is FileState.FAILED
    keys = stored_keys(report)
    done = env.resume(report.id)
    check_sealed_report(env.vault, env.root, done, env.org, keys=keys)
    sent = done.attachments[0]
    assert sent.checksum == f"SHA256:{sent.sealed_sha256}" and sent.sealed_sha256 != sent.sha256


def test_a_pause_mid_chunk_resumes_to_the_same_bytes(env: Env) -> None:
    events: list[Any] = []
    unsubscribe = env.submitter.subscribe(events.append)
    report = env.vault.create_report("paused sealed", "paused", env.file_ids)
    env.server.faults.bandwidth(2 * MiB)
    try:
        env.submitter.submit(report.id)
        # Pause while the big file's first chunk is on its way.
        wait_for(lambda: any(getattr(e, "bytes_sent", 0) > MiB for e in events), 60)
        env.submitter.pause(report.id)
        assert env.vault.get_report(report.id).status is Status.PAUSED
    finally:
        env.server.faults.bandwidth(None)
        unsubscribe()
    assert env.submitter.wait(report.id, timeout=30)
    paused = env.vault.get_report(report.id)
    keys = stored_keys(paused)
    assert paused.description_sent and paused.attachments[1].state is not FileState.VERIFIED
    done = env.resume(report.id)
    check_sealed_report(env.vault, env.root, done, env.org, keys=keys)


def test_a_chunked_sealed_file_is_hashed_as_its_chunks_go(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several chunk PUTs in flight, each sender with its own reader: the ciphertext's SHA-256
    is taken from the chunk bodies as they are read in order, with no extra pass over it."""
    passes: list[str] = []
    one_pass = sealing.sealed_sha256

    def counted(*args: Any) -> str:
        passes.append("pass")
        return one_pass(*args)

    monkeypatch.setattr(sealing, "sealed_sha256", counted)
    done = env.run("hashed as it goes")
    assert done.status is Status.SUBMITTED, done.reason
    assert len(env.server.log.filter("PUT", "/uploads/")) == 2  # 5 MiB, then the rest
    assert passes == []
    check_sealed_report(env.vault, env.root, done, env.org)
