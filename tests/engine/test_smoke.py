"""Smoke: a report lands on the dev server in the Tella layout."""

from __future__ import annotations

import json

import pytest
from engine_helpers import random_bytes, report_with_files, server_tree, sha256

from tellakit.reports import Status


@pytest.mark.timeout(60)
def test_report_lands_in_tella_layout(connected, submitter, devserver):
    big = random_bytes(11 * 1024 * 1024 + 7, 1)
    r = report_with_files(
        connected,
        "Riot / day 1",
        [("a.jpg", b"x" * 10), ("big.bin", big), ("a.jpg", b"yy")],
        description="What happened.",
    )
    submitter.submit(r.id)
    assert submitter.wait(r.id, timeout=30)
    done = connected.get_report(r.id)
    assert done.status is Status.SUBMITTED, done.reason
    tree = server_tree(devserver.files_root("alice"))
    folder = "Tella/Riot day 1"
    assert tree[f"{folder}/description.txt"] == b"What happened."
    assert tree[f"{folder}/a.jpg"] == b"x" * 10
    assert tree[f"{folder}/a (2).jpg"] == b"yy"
    assert sha256(tree[f"{folder}/big.bin"]) == sha256(big)
    manifest = json.loads(tree[f"{folder}/manifest.json"])
    assert [f["name"] for f in manifest["files"]] == ["a.jpg", "big.bin", "a (2).jpg"]
    assert [r.status for r in devserver.log.filter("PUT", "/uploads/")] == [201, 201]
