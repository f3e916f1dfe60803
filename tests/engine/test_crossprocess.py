"""Pause and resume from another process: the uploading process notices the vault's state.

A child process submits a large file under a bandwidth cap; this process opens the same vault
and pauses the report (through the CLI, or ``vault.set_status``). The child's upload must stop
on the server, the report stay paused, and a later resume (here, in this process) finish with
matching hashes, re-sending no chunk the server had confirmed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from engine_helpers import PASSPHRASE, SMALL, file_sha256, random_bytes, wait_for

from tellakit import cli
from tellakit.engine import Submitter
from tellakit.errors import ReportNotFound
from tellakit.reports import Status
from tellakit.vault import open_vault

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
MiB = 1024 * 1024
CHILD = Path(__file__).with_name("submit_child.py")
REPO = Path(__file__).resolve().parents[2]
CHUNK_PUT = re.compile(r"/uploads/[^/]+/[^/]+/(\d+)$")


def _chunk_puts(records) -> list[tuple[int, int]]:
    """(chunk number, status) of the chunk PUTs in ``records``."""
    out = []
    for r in records:
        m = CHUNK_PUT.search(r.path)
        if r.method == "PUT" and m:
            out.append((int(m.group(1)), r.status))
    return out


@pytest.mark.parametrize("how", ["cli", "vault"])
def test_pause_from_another_process_stops_the_upload_there(
    connected, devserver, monkeypatch, capsys, how
):
    vault = connected
    data = random_bytes(16 * MiB, 31)
    f = vault.import_bytes(data, "big.bin")
    report = vault.create_report("Cross process", "", [f.id])
    devserver.faults.bandwidth(2 * MiB)  # chunk 1 (5 MiB) takes ~2.5 s, the file ~8 s
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(vault.path), PASSPHRASE, report.id],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Pause once chunk 1 is confirmed, while chunk 2 is on its way.
        wait_for(lambda: (1, 201) in _chunk_puts(devserver.log), timeout=60)
        if how == "cli":
            monkeypatch.setenv("TELLAKIT_PASSPHRASE", PASSPHRASE)
            assert cli.main(["pause", report.id, "--vault", str(vault.path)]) == cli.EXIT_OK
        else:
            vault.set_status(report.id, Status.PAUSED)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    assert "idle=True status=paused" in out
    # The upload stopped on the server: the request log stops growing (the abandoned chunk
    # PUT is logged once the server has unwound it).
    _wait_until_log_settles(devserver)
    before = _chunk_puts(devserver.log)
    # The chunk in flight was abandoned mid-body (the server did not complete it).
    assert [n for n, status in before if status != 201], before
    remote = devserver.files_root("alice") / "Tella" / "Cross process" / "big.bin"
    assert not devserver.log.filter("MOVE", "/uploads/"), "the child finished the file"
    assert not remote.exists()
    assert vault.get_report(report.id).status is Status.PAUSED

    devserver.faults.bandwidth(None)
    if how == "cli":
        code = cli.main(["resume", report.id, "--vault", str(vault.path)])
        assert code == cli.EXIT_OK, capsys.readouterr()
    else:
        with Submitter(vault, tuning=SMALL) as sub:
            sub.resume(report.id)
            assert sub.wait(report.id, timeout=60)
    done = vault.get_report(report.id)
    assert done.status is Status.SUBMITTED
    assert file_sha256(remote) == f.sha256
    # Resume sends no chunk the server had confirmed: at most the one in flight again.
    confirmed = {n for n, status in before if status == 201}
    after = _chunk_puts(_chunk_records(devserver)[len(before) :])
    resent = confirmed & {n for n, _ in after}
    assert not resent, f"confirmed chunks sent again: {sorted(resent)}"
    assert len(after) == len({n for n, _ in after})  # each remaining chunk once


def _chunk_records(devserver) -> list:
    return [r for r in devserver.log if r.method == "PUT" and CHUNK_PUT.search(r.path)]


def _wait_until_log_settles(devserver, quiet: float = 1.5, timeout: float = 30.0) -> None:
    """Wait until the request log has not grown for ``quiet`` seconds (fail after timeout)."""
    deadline = time.monotonic() + timeout
    seen, since = len(devserver.log), time.monotonic()
    while time.monotonic() - since < quiet:
        assert time.monotonic() < deadline, "the server kept receiving requests"
        time.sleep(0.1)
        if len(devserver.log) != seen:
            seen, since = len(devserver.log), time.monotonic()


# A second Vault object on the same folder stands for another process below: the Submitter
# learns about it only through the index, exactly as across processes (and faster to run).


def _uploading(connected, devserver, title: str):
    vault = connected
    data = random_bytes(12 * MiB, 32)
    f = vault.import_bytes(data, "big.bin")
    report = vault.create_report(title, "", [f.id])
    devserver.faults.bandwidth(3 * MiB)
    sub = Submitter(vault, tuning=SMALL, max_parallel_reports=1)
    sub.submit(report.id)
    wait_for(lambda: (1, 201) in _chunk_puts(devserver.log), timeout=60)
    return sub, report, f


def test_delete_from_another_process_stops_the_upload(connected, devserver):
    sub, report, _ = _uploading(connected, devserver, "Deleted elsewhere")
    try:
        with open_vault(connected.path, PASSPHRASE) as other:
            other.delete_report(report.id)
        assert sub.wait(report.id, timeout=30)
        _wait_until_log_settles(devserver)
        assert not devserver.log.filter("MOVE", "/uploads/")
        puts = _chunk_puts(devserver.log)
        assert (2, 201) not in puts  # chunk 2 was cut mid-body
        assert [n for n, status in puts if status != 201], puts
        with pytest.raises(ReportNotFound):
            connected.get_report(report.id)
    finally:
        sub.close()


def test_orphan_recovery_elsewhere_does_not_stop_a_live_upload(connected, devserver):
    sub, report, f = _uploading(connected, devserver, "Live")
    try:
        with open_vault(connected.path, PASSPHRASE) as other:
            # Another process's Submitter starts: it takes "uploading" reports for orphans.
            Submitter(other).close()
            assert other.get_report(report.id).status is Status.INTERRUPTED
            # The live upload shows itself uploading again and finishes.
            wait_for(lambda: other.get_report(report.id).status is not Status.INTERRUPTED)
        devserver.faults.bandwidth(None)
        assert sub.wait(report.id, timeout=60)
        assert connected.get_report(report.id).status is Status.SUBMITTED
        remote = devserver.files_root("alice") / "Tella" / "Live" / "big.bin"
        assert file_sha256(remote) == f.sha256
    finally:
        sub.close()


def test_resume_elsewhere_takes_the_upload_over_without_a_second_copy(connected, devserver):
    sub, report, f = _uploading(connected, devserver, "Taken over")
    try:
        with open_vault(connected.path, PASSPHRASE) as other:
            # A pause and a resume in another process, quicker than this one's monitor
            # looked: this upload must stop (the attempt count moved on), the other go on.
            with Submitter(other, tuning=SMALL) as other_sub:
                other.set_status(report.id, Status.PAUSED)
                other_sub.resume(report.id)
                assert sub.wait(report.id, timeout=30)  # this process let go
                devserver.faults.bandwidth(None)
                assert other_sub.wait(report.id, timeout=60)
                done = other.get_report(report.id)
                if done.status is Status.INTERRUPTED:
                    # The two may still have met on the server (e.g. a 423 for a chunk this
                    # process was abandoning): a retryable stop, and a resume finishes.
                    assert done.retryable, done.reason
                    other_sub.resume(report.id)
                    assert other_sub.wait(report.id, timeout=60)
            assert other.get_report(report.id).status is Status.SUBMITTED
        tree = sorted(p.name for p in (devserver.files_root("alice") / "Tella").rglob("*"))
        assert tree == ["Taken over", "big.bin", "description.txt", "manifest.json"]
        remote = devserver.files_root("alice") / "Tella" / "Taken over" / "big.bin"
        assert file_sha256(remote) == f.sha256
        assert connected.get_report(report.id).status is Status.SUBMITTED
    finally:
        sub.close()
