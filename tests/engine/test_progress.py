"""The tqdm adapter follows a report's bytes and closes when the report stops."""

from __future__ import annotations

import io

from engine_helpers import SMALL, random_bytes, report_with_files
from tqdm import tqdm

from tellakit.engine import Submitter
from tellakit.engine.progress import ReportProgressBar


def test_bar_follows_bytes_and_closes_when_submitted(connected, devserver):
    data = random_bytes(1536 * 1024, 3)
    report = report_with_files(connected, "bar", [("a.bin", data), ("b.txt", b"xy")])
    out = io.StringIO()
    with Submitter(connected, tuning=SMALL) as sub:
        bar = ReportProgressBar(sub, report.id, tqdm_factory=tqdm, file=out, mininterval=0)
        sub.submit(report.id)
        assert sub.wait(report.id, timeout=60)
    assert bar.state == "submitted"
    assert bar.bar.n == bar.bar.total == len(data) + 2
    assert "submitted" in out.getvalue()
    bar.close()  # already closed: harmless
