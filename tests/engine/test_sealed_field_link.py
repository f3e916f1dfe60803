"""A sealed report through a link that keeps dropping (~8 MB between drops, a TCP proxy that
resets every connection): it ends submitted and verified by itself, the organization's key
opens the file byte-identical, no chunk was stored twice, nothing is left in the upload area
and no marker of the report reaches the server's disk."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pytest
from engine_helpers import MiB, random_bytes
from sealed_helpers import decrypted_sha256, sealed_connection

from tellakit.engine import Submitter
from tellakit.engine.scheduler import RetryPolicy
from tellakit.reports import FileState, Status

pytestmark = pytest.mark.timeout(300)
MARKER = b"sealed-field-marker-7f3c"


def test_a_sealed_report_gets_through_a_link_that_keeps_dropping(tmp_path: Path) -> None:
    from tellakit.devserver import FlakyLink

    with sealed_connection(tmp_path, "Field") as (server, org, vault):
        link = FlakyLink(server.url, seed=3).start()
        try:
            # The same connection, through the link (the proxy forwards to the server).
            vault.set_connection(replace(vault.get_connection(), server_url=link.url))
            video = MARKER + random_bytes(24 * MiB, 5) + MARKER
            att = vault.import_bytes(video, "market fire.mp4")
            report = vault.create_report(
                f"title {MARKER.decode()}", f"desc {MARKER.decode()}", [att.id]
            )
            link.set_drops((4_000_000, 12_000_000))
            retry = RetryPolicy(auto=True, restart_after_progress=0.2)
            with Submitter(vault, retry=retry) as sub:
                sub.submit(report.id)
                assert sub.wait(report.id, timeout=280, until="settled")
            done = vault.get_report(report.id)
        finally:
            link.stop()

        assert done.status is Status.SUBMITTED, done.reason
        assert done.attempts > 1 and link.drops >= 1  # it dropped and went on by itself
        assert all(a.state is FileState.VERIFIED for a in done.attachments)
        (sealed,) = [p for p in server.files_root("alice").rglob("1.age")]
        assert decrypted_sha256(org, sealed) == hashlib.sha256(video).hexdigest()
        assert not list(server.ctx.uploads_root("alice").iterdir())
        stored: dict[str, list[str]] = defaultdict(list)
        for r in server.log.filter("PUT", "/uploads/"):
            folder, _, chunk = r.path.rpartition("/")
            if r.status in (201, 204):
                stored[folder].append(chunk)
        assert stored and all(len(c) == len(set(c)) for c in stored.values())
        for path in server.data_dir.rglob("*"):
            if path.is_file():
                assert MARKER not in path.read_bytes(), path
