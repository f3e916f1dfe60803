"""The Submitter against the development server: layout, progress, pause, resume, delete,
outbox, fatal and retryable errors, verification, orphan recovery. The tests taking ``target``
also run against a real Nextcloud when one is given (targets.py, docs/testing.md)."""

from __future__ import annotations

import io
import json
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from engine_helpers import (
    PASSPHRASE,
    SMALL,
    random_bytes,
    report_with_files,
    server_tree,
    sha256,
    wait_for,
)
from fakes import FakeTimers

from tellakit.engine import FileEvent, ProgressEvent, ReportEvent, Submitter, client_for
from tellakit.engine.monitor import STOPPED_DURING_UPLOAD
from tellakit.engine.retry import Backoff
from tellakit.errors import InvalidTransition
from tellakit.nextcloud import ChunkedUpload, NextcloudClient
from tellakit.reports import FileState, Status
from tellakit.vault import open_vault

pytestmark = pytest.mark.timeout(90)
KiB = 1024


def test_submit_returns_at_once_and_lands_in_tella_layout(connected_target, target):
    connected = connected_target
    files = [
        ("empty.txt", b""),
        ("фото 📷.jpg", random_bytes(3000, 1)),
        ("IMG_0001.jpg", random_bytes(5000, 2)),
        ("IMG_0001.jpg", random_bytes(6000, 3)),
        ("description.txt", b"an attachment named like the description"),
        ("manifest.json", b"{}"),
    ]
    report = report_with_files(connected, "Protest: 12/03 <north>", files, "Only this text.")
    if target.devserver is not None:
        target.devserver.faults.latency(0.2, method="PUT")  # a real server takes its time
    with Submitter(connected, tuning=SMALL) as sub:
        sub.submit(report.id)
        # Returned before the work is done: the report is uploading, not yet submitted.
        assert connected.get_report(report.id).status is Status.UPLOADING
        assert sub.wait(report.id, timeout=80)
    done = connected.get_report(report.id)
    assert done.status is Status.SUBMITTED, done.reason
    assert done.submitted_at is not None
    folder = "Protest 12 03 north"
    assert done.remote_folder == f"{target.root}/{folder}"
    tree = target.tree()
    assert tree[f"{folder}/description.txt"] == b"Only this text."
    expected = {
        "empty.txt": files[0][1],
        "фото 📷.jpg": files[1][1],
        "IMG_0001.jpg": files[2][1],
        "IMG_0001 (2).jpg": files[3][1],
        "description (2).txt": files[4][1],
        "manifest (2).json": files[5][1],
    }
    for name, data in expected.items():
        assert tree[f"{folder}/{name}"] == data, name
    assert not target.layout_problems({folder: [*expected, "description.txt", "manifest.json"]})
    manifest = json.loads(tree[f"{folder}/manifest.json"])
    assert manifest["format"] == "tellakit-report"
    assert [f["name"] for f in manifest["files"]] == list(expected)
    assert [f["sha256"] for f in manifest["files"]] == [sha256(d) for d in expected.values()]
    assert manifest["submitted_at"] and all(f["captured_at"] for f in manifest["files"])
    for att in done.attachments:
        assert att.state is FileState.VERIFIED
        assert att.checksum == f"SHA256:{att.sha256}"


def test_progress_events_reach_subscribers_and_snapshot_matches(connected, devserver):
    data = random_bytes(600 * KiB, 4)
    report = report_with_files(connected, "progress", [("a.bin", data)])
    events: list[ProgressEvent] = []
    devserver.faults.bandwidth(1024 * KiB)
    with Submitter(connected, tuning=replace(SMALL, single_put_limit=10 << 20)) as sub:
        off = sub.subscribe(events.append)
        sub.submit(report.id)
        assert sub.wait(report.id, timeout=60)
        off()
        snap = sub.snapshot(report.id)
    states = [e.state for e in events if isinstance(e, ReportEvent)]
    assert states[0] == "uploading" and states[-1] == "submitted"
    file_events = [e for e in events if isinstance(e, FileEvent)]
    sent = [e.bytes_sent for e in file_events]
    assert sent == sorted(sent) and sent[-1] == len(data)
    assert len(file_events) >= 3  # intermediate byte progress, not just start and end
    assert any(e.speed_bps > 0 for e in file_events)
    assert snap.state == "submitted" and snap.bytes_sent == snap.total == len(data)
    assert not snap.active and snap.files[0].state == "verified"


def test_pause_stops_mid_upload_and_resume_finishes(connected, devserver):
    # Larger than the loopback socket buffers, so the body is still being read when paused.
    data = random_bytes(16 * 1024 * KiB, 5)
    report = report_with_files(connected, "pause me", [("video.mp4", data)])
    devserver.faults.bandwidth(1024 * KiB)
    events: list[ProgressEvent] = []
    with Submitter(connected, tuning=replace(SMALL, single_put_limit=64 << 20)) as sub:
        sub.subscribe(events.append)
        sub.submit(report.id)
        wait_for(lambda: any(isinstance(e, FileEvent) and e.bytes_sent > 0 for e in events))
        sub.pause(report.id)
        assert connected.get_report(report.id).status is Status.PAUSED
        devserver.faults.bandwidth(None)
        assert sub.wait(report.id, timeout=30)
        wait_for(lambda: devserver.log.filter("PUT", "video.mp4"), 20)  # server saw the drop
        puts = devserver.log.filter("PUT", "video.mp4")
        assert max(r.bytes_in for r in puts) < len(data)  # stopped mid-body
        assert connected.get_report(report.id).status is Status.PAUSED
        sub.resume(report.id)
        assert sub.wait(report.id, timeout=60)
    assert connected.get_report(report.id).status is Status.SUBMITTED
    tree = server_tree(devserver.files_root("alice"))
    assert sha256(tree["Tella/pause me/video.mp4"]) == sha256(data)


def test_pause_mid_chunk_resumes_from_that_chunk(connected, devserver):
    data = random_bytes(16 * 1024 * KiB, 6)  # chunks of 5, 5 and 6 MiB
    report = report_with_files(connected, "pause chunked", [("c.bin", data)])
    events: list[ProgressEvent] = []
    devserver.faults.bandwidth(2048 * KiB)
    with Submitter(connected, tuning=SMALL) as sub:
        sub.subscribe(events.append)
        sub.submit(report.id)
        # Pause while the second chunk is on its way.
        wait_for(
            lambda: any(isinstance(e, FileEvent) and e.bytes_sent > 6 * 1024 * KiB for e in events)
        )
        sub.pause(report.id)
        assert connected.get_report(report.id).status is Status.PAUSED
        devserver.faults.bandwidth(None)
        assert sub.wait(report.id, timeout=30)
        before = len(devserver.log.filter("PUT", "/uploads/"))
        sub.resume(report.id)
        assert sub.wait(report.id, timeout=60)
    assert connected.get_report(report.id).status is Status.SUBMITTED
    chunk_puts = devserver.log.filter("PUT", "/uploads/")
    names = [r.path.rsplit("/", 1)[1] for r in chunk_puts]
    assert names[:before].count("00001") == 1
    assert "00001" not in names[before:]  # the confirmed chunk was not sent again
    assert sorted(set(names)) == ["00001", "00002", "00003"]
    tree = server_tree(devserver.files_root("alice"))
    assert sha256(tree["Tella/pause chunked/c.bin"]) == sha256(data)


def test_pause_after_a_chunk_was_handed_over_keeps_it_off_the_server(connected, devserver):
    # A 12 MiB chunk at 1 MiB/s: its last byte is handed to the kernel seconds before the
    # server has read it (loopback buffers hold megabytes), and the tail is still on our side.
    # The pause then comes while the client only waits for the answer.
    chunk = 12 * 1024 * KiB
    data = random_bytes(chunk + 6 * 1024 * KiB, 8)  # chunks of 12 and 6 MiB
    report = report_with_files(connected, "late pause", [("late.bin", data)])
    tuning = replace(SMALL, initial_chunk=chunk, max_chunk=chunk)
    handed_over = threading.Event()

    class Observed(ChunkedUpload):
        """The production class; only tells the test when chunk 1 is wholly handed over."""

        def upload_chunk(self, n, stream, size, on_progress=None, cancel=None):  # type: ignore[no-untyped-def]
            def progress(sent: int) -> None:
                if on_progress is not None:
                    on_progress(sent)
                if n == 1 and sent == size:
                    handed_over.set()

            super().upload_chunk(n, stream, size, progress, cancel)

    devserver.faults.bandwidth(1024 * KiB)
    with Submitter(connected, tuning=tuning, chunked_upload_cls=Observed) as sub:
        sub.submit(report.id)
        assert handed_over.wait(60)
        sub.pause(report.id)
        assert connected.get_report(report.id).status is Status.PAUSED
        wait_for(lambda: devserver.log.filter("PUT", "/00001"), 20)  # the server ended it
        devserver.faults.bandwidth(None)
        assert sub.wait(report.id, timeout=30)
        first = devserver.log.filter("PUT", "/00001")
        assert [r.status for r in first if r.status in (200, 201, 204)] == []  # not completed
        assert max(r.bytes_in for r in first) < chunk
        before = len(devserver.log.filter("PUT", "/uploads/"))
        assert connected.get_report(report.id).status is Status.PAUSED
        sub.resume(report.id)
        assert sub.wait(report.id, timeout=60)
    assert connected.get_report(report.id).status is Status.SUBMITTED
    names = [r.path.rsplit("/", 1)[1] for r in devserver.log.filter("PUT", "/uploads/")]
    assert names[:before] == ["00001"]  # only the paused chunk had been tried
    assert names[before:] == ["00001", "00002"]  # resume re-sends that chunk, then the rest
    tree = server_tree(devserver.files_root("alice"))
    assert sha256(tree["Tella/late pause/late.bin"]) == sha256(data)


def test_delete_stops_and_keeps_what_the_server_has(connected, devserver):
    data = random_bytes(2048 * KiB, 6)
    report = report_with_files(connected, "delete me", [("v.bin", data)], "desc")
    devserver.faults.bandwidth(256 * KiB)
    events: list[ProgressEvent] = []
    with Submitter(connected, tuning=replace(SMALL, single_put_limit=10 << 20)) as sub:
        sub.subscribe(events.append)
        sub.submit(report.id)
        wait_for(lambda: any(isinstance(e, FileEvent) and e.bytes_sent > 0 for e in events))
        sub.delete(report.id)
        assert report.id not in {r.id for r in connected.list_reports()}  # gone at once
        devserver.faults.bandwidth(None)
        assert sub.wait(timeout=30)  # the worker let go
    assert report.id not in {r.id for r in connected.list_reports()}
    tree = server_tree(devserver.files_root("alice"))
    assert tree["Tella/delete me/description.txt"] == b"desc"  # stays on the server


def test_close_after_deleting_a_report_whose_worker_is_still_busy_does_not_raise(
    connected, devserver
):
    # The worker sits in a request it cannot abandon (the final MOVE, the server assembling
    # the file) for longer than delete() waits for it; delete() removes the report anyway.
    # close() then finds that worker still running and must not try to record its report.
    data = random_bytes(1536 * KiB, 9)  # chunked (SMALL: from 1 MiB), one chunk
    report = report_with_files(connected, "deleted while busy", [("d.bin", data)])
    devserver.faults.latency(3.0, method="MOVE")
    sub = Submitter(connected, tuning=SMALL)
    try:
        sub.submit(report.id)
        att_id = report.attachments[0].id

        def chunks_done() -> bool:
            att = next(a for a in connected.get_report(report.id).attachments if a.id == att_id)
            return att.bytes_sent == len(data)  # recorded right before the MOVE

        wait_for(chunks_done, 30)
        sub.delete(report.id)
        assert report.id not in {r.id for r in connected.list_reports()}
    finally:
        sub.close()  # raised ReportNotFound while recording the deleted report as interrupted
    assert report.id not in {r.id for r in connected.list_reports()}


def test_submit_later_then_outbox(connected_target, target):
    connected = connected_target
    ids = [report_with_files(connected, f"r{i}", [("a.txt", b"%d" % i)]).id for i in range(3)]
    with Submitter(connected, tuning=SMALL) as sub:
        for rid in ids:
            sub.submit_later(rid)
        assert {connected.get_report(r).status for r in ids} == {Status.QUEUED}
        assert set(sub.submit_outbox()) == set(ids)
        assert sub.wait(timeout=80)
    assert {connected.get_report(r).status for r in ids} == {Status.SUBMITTED}
    assert target.tree(contents=False).keys() >= {f"r{i}/a.txt" for i in range(3)}


def test_retryable_error_goes_to_outbox_and_the_batch_goes_on(connected, devserver):
    a = report_with_files(connected, "A", [("a.txt", b"a")])
    b = report_with_files(connected, "B", [("b.txt", b"b")])
    devserver.faults.respond(503, method="PUT", path=r"/A/a\.txt$")
    with Submitter(connected, tuning=SMALL, max_parallel_reports=1) as sub:
        sub.submit_later(a.id)
        sub.submit_later(b.id)
        sub.submit_outbox()
        assert sub.wait(timeout=60)
    ra, rb = connected.get_report(a.id), connected.get_report(b.id)
    assert ra.status is Status.INTERRUPTED and ra.retryable is True
    assert "503" in (ra.reason or "") or "unavailable" in (ra.reason or "")
    assert rb.status is Status.SUBMITTED


def test_fatal_auth_error_stops_dispatch_of_the_rest(connected, devserver):
    ids = [report_with_files(connected, f"F{i}", [("x.txt", b"x")]).id for i in range(3)]
    devserver.faults.respond(401, times=1000)
    with Submitter(connected, tuning=SMALL, max_parallel_reports=1) as sub:
        for rid in ids:
            sub.submit_later(rid)
        sub.submit_outbox()
        assert sub.wait(timeout=60)
    reports = [connected.get_report(r) for r in ids]
    tried = [r for r in reports if r.reason and not r.reason.startswith("Not sent")]
    assert len(tried) == 1  # only the first was attempted
    assert tried[0].status is Status.INTERRUPTED and tried[0].retryable is False
    for r in reports:  # the rest stay in the outbox: held back, or never dispatched
        assert r.status is Status.QUEUED or (
            r.status is Status.INTERRUPTED and r.retryable is False
        )
    assert "login" in (tried[0].reason or "").lower()
    # Fix the cause, resume: everything goes.
    devserver.faults.clear()
    with Submitter(connected, tuning=SMALL) as sub:
        sub.submit_outbox()
        assert sub.wait(timeout=60)
    assert {connected.get_report(r).status for r in ids} == {Status.SUBMITTED}


def test_auto_retry_waits_for_retry_after(connected, devserver):
    report = report_with_files(connected, "retry", [("a.txt", b"a")])
    devserver.faults.respond(429, method="PUT", path=r"a\.txt$", headers={"Retry-After": "1"})
    sub = Submitter(connected, tuning=SMALL, auto_retry=True, backoff=Backoff(base=0.05))
    try:
        sub.submit(report.id)
        wait_for(lambda: connected.get_report(report.id).status is Status.SUBMITTED, 30)
    finally:
        sub.close()
    puts = devserver.log.filter("PUT", "a.txt")
    assert [r.status for r in puts] == [429, 201]
    assert puts[1].time - puts[0].time >= 0.9  # Retry-After honoured (a lower bound only)


class CorruptingClient(NextcloudClient):
    """A client whose network path flips one byte of every PUT body of ``victim`` files."""

    victim = "bad.bin"

    def put(self, path, stream, size, **kw):  # type: ignore[override]
        if path.endswith(self.victim):
            data = bytearray(stream.read(size))
            data[len(data) // 2] ^= 0xFF
            stream = io.BytesIO(bytes(data))
        return super().put(path, stream, size, **kw)


def test_checksum_mismatch_is_never_submitted_and_resume_reuploads(connected_target, target):
    # The fault is the client's (a body corrupted on the way), so it needs no injector.
    connected = connected_target
    good, bad = random_bytes(4000, 7), random_bytes(5000, 8)
    report = report_with_files(connected, "verify", [("good.bin", good), ("bad.bin", bad)])

    def corrupting(settings):
        client = client_for(settings)
        client.__class__ = CorruptingClient
        return client

    with Submitter(connected, tuning=SMALL, client_factory=corrupting) as sub:
        sub.submit(report.id)
        assert sub.wait(report.id, timeout=60)
    r = connected.get_report(report.id)
    assert r.status is Status.INTERRUPTED and r.retryable is False
    assert "Verification failed" in (r.reason or "")
    assert [a.state for a in r.attachments] == [FileState.VERIFIED, FileState.FAILED]
    with Submitter(connected, tuning=SMALL) as sub:
        sub.resume(report.id)
        assert sub.wait(report.id, timeout=60)
    assert connected.get_report(report.id).status is Status.SUBMITTED
    assert target.read("verify/bad.bin") == bad
    assert not target.layout_problems(
        {"verify": ["good.bin", "bad.bin", "description.txt", "manifest.json"]}
    )


@pytest.mark.parametrize("from_end", [20, 75 * 65552], ids=["last-chunk", "middle-chunk"])
def test_tampered_vault_file_is_never_completed(connected_target, target, from_end):
    # The fault is in the vault, so it needs no injector.
    connected = connected_target
    data = random_bytes(11 * 1024 * KiB, 9)  # chunked: 5 MiB + 6 MiB
    report = report_with_files(connected, "tampered", [("t.bin", data)])
    blobs = [p for p in (Path(connected.path) / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 1
    raw = bytearray(blobs[0].read_bytes())
    raw[-from_end] ^= 0x01  # one bit inside one 64 KiB STREAM chunk
    blobs[0].write_bytes(bytes(raw))
    with Submitter(connected, tuning=SMALL) as sub:
        sub.submit(report.id)
        assert sub.wait(report.id, timeout=60)
    r = connected.get_report(report.id)
    assert r.status is Status.INTERRUPTED and r.retryable is False
    assert "failed authentication" in (r.reason or "")
    if target.devserver is not None:  # the request log is the dev server's
        assert target.devserver.log.filter("MKCOL", "/uploads/")  # it went the chunked way
        assert not target.devserver.log.filter("MOVE")  # ... and was never completed
    assert not target.exists("tampered/t.bin")


@pytest.mark.parametrize("where", ["payload", "header"])
def test_tampered_vault_file_is_never_stored_by_a_single_put(connected, devserver, where):
    # The upload reads the vault without its whole-file SHA-256 pass; the per-chunk AEAD and
    # the header MAC bound in the index must still stop the PUT before it completes.
    data = random_bytes(600 * KiB, 10)  # one PUT (SMALL: up to 1 MiB)
    report = report_with_files(connected, "tampered one", [("t.bin", data)])
    (blob,) = [p for p in (Path(connected.path) / "blobs").rglob("*") if p.is_file()]
    raw = bytearray(blob.read_bytes())
    if where == "payload":
        raw[-3 * 65552] ^= 0x01  # inside a STREAM chunk in the middle of the body
    else:
        raw[raw.index(b"\n---") - 5] ^= 0x01  # inside the header's stanza body
    blob.write_bytes(bytes(raw))
    with Submitter(connected, tuning=SMALL) as sub:
        sub.submit(report.id)
        assert sub.wait(report.id, timeout=60)
    r = connected.get_report(report.id)
    assert r.status is Status.INTERRUPTED and r.retryable is False, r.reason
    assert r.attachments[0].state is not FileState.VERIFIED
    assert not devserver.log.filter("MKCOL", "/uploads/")  # it went the single-PUT way
    assert not (devserver.files_root("alice") / "Tella" / "tampered one" / "t.bin").exists()


def test_orphaned_upload_is_shown_interrupted_after_reopen(connected, tmp_path):
    report = report_with_files(connected, "orphan", [("a.txt", b"a")])
    connected.set_status(report.id, Status.UPLOADING)  # as if a process died mid-upload
    path = connected.path
    connected.close()
    vault = open_vault(path, PASSPHRASE)
    try:
        with Submitter(vault, tuning=SMALL):
            r = vault.get_report(report.id)
        assert r.status is Status.INTERRUPTED and r.retryable is True
        assert r.reason == STOPPED_DURING_UPLOAD
    finally:
        vault.close()


def test_close_records_running_reports_as_interrupted(connected, devserver):
    report = report_with_files(connected, "closing", [("v.bin", random_bytes(1024 * KiB, 1))])
    devserver.faults.bandwidth(128 * KiB)
    sub = Submitter(connected, tuning=replace(SMALL, single_put_limit=10 << 20))
    started = threading.Event()
    sub.subscribe(lambda e: isinstance(e, FileEvent) and e.bytes_sent > 0 and started.set())
    sub.submit(report.id)
    assert started.wait(30)
    t0 = time.monotonic()
    sub.close()
    assert time.monotonic() - t0 < 30
    r = connected.get_report(report.id)
    assert r.status is Status.INTERRUPTED and r.retryable is True


def test_submitting_a_submitted_report_is_refused(connected, devserver):
    report = report_with_files(connected, "once", [("a.txt", b"a")])
    with Submitter(connected, tuning=SMALL) as sub:
        sub.submit(report.id)
        assert sub.wait(report.id, timeout=60)
        with pytest.raises(InvalidTransition):
            sub.submit(report.id)
    assert len(devserver.log.filter("PUT", "a.txt")) == 1


def test_for_vault_shares_one_submitter_and_a_second_one_leaves_live_uploads_alone(
    connected, devserver
):
    report = report_with_files(connected, "shared", [("v.bin", random_bytes(1024 * KiB, 2))])
    devserver.faults.latency(1.0, method="PUT")
    first = Submitter.for_vault(connected, tuning=SMALL)
    try:
        assert Submitter.for_vault(connected) is first
        first.submit(report.id)
        second = Submitter(connected, tuning=SMALL)  # e.g. another view made its own
        second.close()
        assert connected.get_report(report.id).status is Status.UPLOADING  # not "orphaned"
        assert first.wait(report.id, timeout=60)
        assert connected.get_report(report.id).status is Status.SUBMITTED
    finally:
        first.close()
    assert Submitter.for_vault(connected) is not first  # a closed one is never handed out
    Submitter.for_vault(connected).close()


def test_without_a_connection_the_report_waits_in_the_outbox_with_a_reason(vault):
    report = report_with_files(vault, "offline", [("a.txt", b"a")])
    with Submitter(vault, tuning=SMALL) as sub:
        sub.submit(report.id)
        assert sub.wait(report.id, timeout=30)
    r = vault.get_report(report.id)
    assert r.status is Status.INTERRUPTED and r.retryable is False
    assert "connection" in (r.reason or "").lower()


def test_auto_retry_from_the_connection_setting_and_pause_cancels_it(connected, devserver):
    settings = connected.get_connection()
    settings.auto_retry = True
    connected.delete_connection()
    connected.set_connection(settings)
    a = report_with_files(connected, "auto", [("a.txt", b"a")])
    b = report_with_files(connected, "held", [("b.txt", b"b")])
    devserver.faults.respond(503, method="PUT", path=r"a\.txt$")
    devserver.faults.respond(503, method="PUT", path=r"b\.txt$")
    # The retries' timers come due only when the test says so (FakeTimers): the retry of b
    # cannot fire before the pause, however loaded the machine, and "it never fired" is
    # checked by moving time far past it instead of sleeping.
    timers = FakeTimers()
    sub = Submitter(
        connected,
        tuning=SMALL,
        backoff=Backoff(base=0.5, jitter=0),
        timer=timers,
        clock=timers.clock,
    )
    try:
        sub.submit(a.id)

        def a_submitted() -> bool:
            if timers.pending:  # a's retry (or a probe first) is due: let it come
                timers.next()
            return connected.get_report(a.id).status is Status.SUBMITTED

        wait_for(a_submitted, 30)
        assert len(devserver.log.filter("PUT", "a.txt")) == 2  # retried by itself
        sub.submit(b.id)
        wait_for(lambda: connected.get_report(b.id).status is Status.INTERRUPTED, 30)
        wait_for(lambda: bool(timers.pending), 30)  # its automatic retry is planned
        planned = timers.pending
        sub.pause(b.id)  # the user pauses: no automatic retry behind their back
        assert all(t.cancelled for t in planned)
        timers.advance(3600)  # an hour later: any retry left would have fired by now
        assert sub.wait(b.id, timeout=30)
        assert connected.get_report(b.id).status is Status.PAUSED
        assert len(devserver.log.filter("PUT", "b.txt")) == 1
    finally:
        sub.close()
