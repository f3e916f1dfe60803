"""Smoke: a report lands in the Tella layout (dev server; a real Nextcloud when given)."""

from __future__ import annotations

import json

import pytest
from engine_helpers import SMALL, random_bytes, report_with_files, sha256

from tellakit.engine import Submitter
from tellakit.reports import Status


@pytest.mark.timeout(180)
def test_report_lands_in_tella_layout(connected_target, target):
    connected = connected_target
    big = random_bytes(11 * 1024 * 1024 + 7, 1)
    r = report_with_files(
        connected,
        "Riot / day 1",
        [("a.jpg", b"x" * 10), ("big.bin", big), ("a.jpg", b"yy")],
        description="What happened.",
    )
    with Submitter(connected, tuning=SMALL) as submitter:
        submitter.submit(r.id)
        assert submitter.wait(r.id, timeout=120)
    done = connected.get_report(r.id)
    assert done.status is Status.SUBMITTED, done.reason
    assert done.remote_folder == f"{target.root}/Riot day 1"
    tree = target.tree()
    folder = "Riot day 1"
    assert tree[f"{folder}/description.txt"] == b"What happened."
    assert tree[f"{folder}/a.jpg"] == b"x" * 10
    assert tree[f"{folder}/a (2).jpg"] == b"yy"
    assert sha256(tree[f"{folder}/big.bin"]) == sha256(big)
    manifest = json.loads(tree[f"{folder}/manifest.json"])
    assert [f["name"] for f in manifest["files"]] == ["a.jpg", "big.bin", "a (2).jpg"]
    if target.devserver is not None:  # the request log is the dev server's
        assert [r.status for r in target.devserver.log.filter("PUT", "/uploads/")] == [201, 201]
