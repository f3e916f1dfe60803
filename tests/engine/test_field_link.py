"""Field links: a link that drops every ~2, ~8 or ~40 MB (at seeded random offsets, across
connections: a TCP proxy in front of the dev server resets every connection at once) carries a
report to SUBMITTED and verified with automatic retry and no manual step; nothing is lost,
stored twice or left over on the server, and no confirmed chunk is sent again (a file leaving
chunking v2 for v1 may send its confirmed part again when that costs the link less:
``LinkModel.restart_pays``; these seeds do not). Sealed reports: test_sealed_field_link.py.

The chunk size follows the link (engine/link.py): after the first drops chunks shrink (a new
upload speaks chunking v1 when 5 MiB would not get through), and the next file speaks v2 again
once the link holds; what was learned is kept in the vault.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import PASSPHRASE, MiB, check_submitted, random_bytes

from tellakit.engine import Submitter, Tuning, connect
from tellakit.engine.scheduler import RetryPolicy
from tellakit.reports import FileState, Status
from tellakit.vault import create_vault

pytestmark = pytest.mark.timeout(300)
#: Automatic retry as the CLI has it, restarting quickly after progress (tests stay short).
RETRY = RetryPolicy(auto=True, restart_after_progress=0.2)
_CHUNK = re.compile(r"/uploads/alice/([^/]+)/(\d+)$")


@pytest.fixture
def field(tmp_path: Path) -> Iterator[dict[str, Any]]:
    pytest.importorskip("wsgidav", reason="tellakit[devserver] extra not installed")
    from tellakit.devserver import DevServer, FlakyLink

    server = DevServer(tmp_path / "server", users={"alice": "secret"}).start()
    link = FlakyLink(server.url, seed=1).start()
    vault = create_vault(tmp_path / "vault", PASSPHRASE, work_factor=10)
    connect(vault, link.url, "alice", "secret", "Field")  # through the link from the start
    try:
        yield {"server": server, "link": link, "vault": vault}
    finally:
        vault.close()
        link.stop()
        server.stop()


def _submit(vault: Any, title: str, files: dict[str, bytes], tuning: Tuning) -> Any:
    report = vault.create_report(title, f"sent over a field link: {title}", [
        vault.import_bytes(data, name).id for name, data in files.items()
    ])  # fmt: skip
    with Submitter(vault, retry=RETRY, tuning=tuning) as sub:
        sub.submit(report.id)
        assert sub.wait(report.id, timeout=280, until="settled")
    return vault.get_report(report.id)


def _stored_chunks(server: Any) -> dict[str, list[tuple[str, int]]]:
    """Upload folder -> (chunk name, bytes) of every chunk PUT the server stored."""
    stored: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for r in server.log.filter("PUT", "/uploads/"):
        match = _CHUNK.search(r.path)
        if match and r.status in (201, 204):
            stored[match.group(1)].append((match.group(2), r.bytes_in))
    return stored


@pytest.mark.parametrize(
    ("every", "size", "seed"),
    [
        ((1_000_000, 3_000_000), 24 * MiB, 2),  # drops every ~2 MB
        ((4_000_000, 12_000_000), 40 * MiB, 8),  # ~8 MB
        ((20_000_000, 60_000_000), 60 * MiB, 40),  # ~40 MB
    ],
    ids=["2MB", "8MB", "40MB"],
)
def test_a_report_gets_through_a_link_that_keeps_dropping(
    field: dict[str, Any], every: tuple[int, int], size: int, seed: int
) -> None:
    server, link, vault = field["server"], field["link"], field["vault"]
    big = random_bytes(size, seed)
    small = random_bytes(300 * 1024, seed + 1)
    link.set_drops(every)
    start = link.total
    done = _submit(vault, f"field {seed}", {"video.mp4": big, "note.bin": small}, Tuning())

    assert done.status is Status.SUBMITTED, done.reason
    assert all(a.state is FileState.VERIFIED and a.checksum for a in done.attachments)
    assert link.drops >= 1 and done.attempts > 1  # it did drop, and it went on by itself
    shas = {a.name: a.sha256 for a in done.attachments}
    check_submitted(server.files_root("alice"), done, shas, {})  # nothing lost or doubled
    assert not list(server.ctx.uploads_root("alice").iterdir())  # no upload left over
    # No chunk was stored twice, and what was stored adds up to the file: a resume sent
    # again only chunks that had not reached the server (those in flight at the drop).
    stored = _stored_chunks(server)
    for folder, chunks in stored.items():
        names = [name for name, _ in chunks]
        assert len(names) == len(set(names)), (folder, names)
    assert sum(n for chunks in stored.values() for _, n in chunks) == size
    # Chunks followed the link: the link carried well under 1.5x the payload.
    assert link.total - start < 1.5 * (size + len(small))
    stats = vault.get_link_stats(link.url)
    assert stats is not None and stats.drops >= 1 and stats.between_drops


def test_v1_after_drops_and_v2_again_once_the_link_holds(field: dict[str, Any]) -> None:
    server, link, vault = field["server"], field["link"], field["vault"]
    # A chunk "gets through" when it is half the bytes between drops (not 1/16), so that a
    # link that holds for ~10 MiB earns 5 MiB chunks again within this test.
    tuning = replace(Tuning(), link_share=1 / 2)
    link.set_drops((2_000_000, 4_000_000))
    first = _submit(vault, "bad link", {"a.bin": random_bytes(12 * MiB, 51)}, tuning)
    assert first.status is Status.SUBMITTED, first.reason
    assert first.attachments[0].transfer_id.startswith("v1:")  # 5 MiB would not get through
    learned = vault.get_link_stats(link.url)
    assert learned is not None and learned.between_drops < 5 * MiB

    link.set_drops(None)  # the link holds from now on
    server.log.clear()
    second = _submit(vault, "better link", {"b.bin": random_bytes(24 * MiB, 52)}, tuning)
    assert second.status is Status.SUBMITTED, second.reason
    # A new Submitter (as a new process) started from the record: v1 at once, no v2 tried.
    assert second.attachments[0].transfer_id.startswith("v1:")
    assert not server.log.filter("DELETE", "/uploads/")
    third = _submit(vault, "good link", {"c.bin": random_bytes(12 * MiB, 53)}, tuning)
    assert third.status is Status.SUBMITTED, third.reason
    assert not third.attachments[0].transfer_id.startswith("v1:")  # v2 again


def test_a_v2_upload_gives_way_to_v1_when_5_mib_hardly_ever_gets_through(
    field: dict[str, Any],
) -> None:
    server, link, vault = field["server"], field["link"], field["vault"]
    data = random_bytes(16 * MiB, 71)
    report = vault.create_report("worse", "", [vault.import_bytes(data, "w.bin").id])
    # A v2 upload with chunk 1 confirmed, cut in chunk 2 (the link was good until then).
    server.faults.cut_after(1000, method="PUT", path=r"/uploads/.+/00002$")
    with Submitter(vault, tuning=Tuning(max_in_flight=1), auto_retry=False) as sub:
        sub.submit(report.id)
        assert sub.wait(report.id, timeout=60)
    first = vault.get_report(report.id).attachments[0]
    assert not first.transfer_id.startswith("v1:") and first.bytes_sent == 10 * MiB
    # Meanwhile the link turned bad: 3 MB between drops, recorded by another session.
    vault.set_link_stats(link.url, replace(vault.get_link_stats(link.url), between_drops=3e6))
    server.faults.clear()
    server.log.clear()
    with Submitter(vault, auto_retry=False) as sub:
        sub.submit(report.id)
        assert sub.wait(report.id, timeout=120)
    done = vault.get_report(report.id)
    assert done.status is Status.SUBMITTED, done.reason
    assert done.attachments[0].transfer_id.startswith("v1:")
    assert server.log.filter("DELETE", "/uploads/")  # the v2 folder was given up, not left
    assert not list(server.ctx.uploads_root("alice").iterdir())
    check_submitted(server.files_root("alice"), done, {"w.bin": first.sha256}, {})
