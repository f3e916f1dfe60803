"""End to end with production sizes: a 200 MiB attachment next to small, empty, unicode and
duplicate-named ones lands in the Tella layout; the server's bytes hash to the vault's.
(Dev server; a real Nextcloud when one is given, see targets.py.)"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tellakit.engine import Submitter
from tellakit.reports import FileState, Status

MiB = 1024 * 1024


def _write_random(path: Path, size: int) -> str:
    h = hashlib.sha256()
    with path.open("wb") as fh:
        left = size
        while left:
            block = os.urandom(min(left, 4 * MiB))
            fh.write(block)
            h.update(block)
            left -= len(block)
    return h.hexdigest()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_200_mib_report_lands_verified(connected_target, target, tmp_path):
    connected = connected_target
    source = tmp_path / "interview.mp4"
    source_sha = _write_random(source, 200 * MiB + 12345)
    big = connected.import_path(source)
    source.unlink()  # only the vault holds it now
    assert big.sha256 == source_sha
    small = [
        connected.import_bytes(b"", "empty.txt"),
        connected.import_bytes("ünïcødé ✓".encode(), "Sitzung – 会議 🎙.m4a"),
        connected.import_bytes(b"one", "IMG_0001.jpg"),
        connected.import_bytes(b"two", "IMG_0001.jpg"),
    ]
    report = connected.create_report(
        "Large evidence", "Recorded 12 March.", [big.id, *(f.id for f in small)]
    )
    with Submitter(connected) as sub:  # production sizes: 10 MiB start, adaptive chunks
        sub.submit(report.id)
        assert sub.wait(report.id, timeout=280 if target.devserver else 860)
    done = connected.get_report(report.id)
    assert done.status is Status.SUBMITTED, done.reason
    assert all(a.state is FileState.VERIFIED for a in done.attachments)
    folder = "Large evidence"
    names = [
        "interview.mp4",
        "empty.txt",
        "Sitzung – 会議 🎙.m4a",
        "IMG_0001.jpg",
        "IMG_0001 (2).jpg",
    ]
    assert [a.remote_name for a in done.attachments] == names
    assert target.sha256(f"{folder}/interview.mp4") == source_sha
    for att in done.attachments:
        assert target.sha256(f"{folder}/{att.remote_name}") == att.sha256
    assert target.read(f"{folder}/description.txt") == b"Recorded 12 March."
    assert not target.layout_problems({folder: [*names, "description.txt", "manifest.json"]})
    if target.devserver is not None:  # the request log is the dev server's
        chunk_puts = target.devserver.log.filter("PUT", "/uploads/")
        assert 2 <= len(chunk_puts) <= 21  # chunked, and never more chunks than 10 MiB ones
