"""The tqdm adapter follows a report's bytes and closes when the report stops."""

from __future__ import annotations

import io
import random

from tqdm import tqdm

from tellakit.console import ReportProgressBar
from tellakit.engine import Submitter, Tuning, connect
from tellakit.vault import create_vault

MiB = 1024 * 1024
SMALL = Tuning(single_put_limit=MiB, initial_chunk=5 * MiB, min_chunk=5 * MiB, max_chunk=5 * MiB)


def test_bar_follows_bytes_and_closes_when_submitted(tmp_path, devserver):
    data = random.Random(3).randbytes(1536 * 1024)
    with create_vault(tmp_path / "vault", "a passphrase", work_factor=10) as connected:
        connect(connected, devserver.url, "alice", "secret", "Tella")
        ids = [connected.import_bytes(d, n).id for n, d in (("a.bin", data), ("b.txt", b"xy"))]
        report = connected.create_report("bar", "", ids)
        out = io.StringIO()
        with Submitter(connected, tuning=SMALL) as sub:
            bar = ReportProgressBar(sub, report.id, tqdm_factory=tqdm, file=out, mininterval=0)
            sub.submit(report.id)
            assert sub.wait(report.id, timeout=60)
    assert bar.state == "submitted"
    assert bar.bar.n == bar.bar.total == len(data) + 2
    assert "submitted" in out.getvalue()
    bar.close()  # already closed: harmless


def test_a_cut_shows_from_where_the_report_resumes(tmp_path, devserver):
    data = random.Random(4).randbytes(11 * MiB)  # chunks of 5 and 6 MiB
    with create_vault(tmp_path / "vault", "a passphrase", work_factor=10) as connected:
        connect(connected, devserver.url, "alice", "secret", "Tella")
        report = connected.create_report("cut", "", [connected.import_bytes(data, "c.bin").id])
        devserver.faults.cut_after(1000, method="PUT", path=r"/uploads/.+/00002$")
        out = io.StringIO()
        with Submitter(connected, tuning=SMALL, auto_retry=False) as sub:
            bar = ReportProgressBar(sub, report.id, tqdm_factory=tqdm, file=out, mininterval=0)
            sub.submit(report.id)
            assert sub.wait(report.id, timeout=60)
        confirmed = connected.get_report(report.id).bytes_sent
    assert bar.state == "interrupted" and confirmed == 5 * MiB
    assert bar.bar.n == confirmed  # back to what the server confirmed, and it says so
    assert "interrupted, resumes from 5.0 MiB" in out.getvalue()
