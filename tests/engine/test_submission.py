"""Folder choice and file restarts of one report's submission (engine/submission.py and
engine/transfer.py) against the development server."""

from __future__ import annotations

import base64
import logging
import time
from pathlib import Path

import pytest
from engine_helpers import (
    PASSPHRASE,
    SMALL,
    layout_problems,
    random_bytes,
    report_with_files,
    server_listing,
    server_tree,
    sha256,
)

from tellakit.engine import Submitter, connect
from tellakit.reports import Status
from tellakit.vault import create_vault

pytestmark = pytest.mark.timeout(90)
MiB = 1024 * 1024
LAYOUT = ["a.txt", "description.txt", "manifest.json"]


def submit_all(vault, *ids, **kw):
    with Submitter(vault, tuning=SMALL, **kw) as sub:
        for rid in ids:
            sub.submit(rid)
        assert sub.wait(timeout=60)
    return [vault.get_report(r) for r in ids]


def test_same_title_gets_numbered_folders(connected, devserver):
    a = report_with_files(connected, "Same", [("a.txt", b"1")])
    b = report_with_files(connected, "Same", [("a.txt", b"2")])
    ra, rb = submit_all(connected, a.id, b.id)
    assert {ra.remote_folder, rb.remote_folder} == {"Tella/Same", "Tella/Same (2)"}
    tree = server_tree(devserver.files_root("alice"))
    assert not layout_problems(tree, {"Tella/Same": LAYOUT, "Tella/Same (2)": LAYOUT})


def test_existing_foreign_folder_is_never_written_into(connected, devserver):
    foreign = Path(devserver.files_root("alice")) / "Tella" / "Taken"
    foreign.mkdir(parents=True)
    (foreign / "theirs.txt").write_bytes(b"not ours")
    r = report_with_files(connected, "Taken", [("a.txt", b"x")])
    (done,) = submit_all(connected, r.id)
    assert done.remote_folder == "Tella/Taken (2)"
    assert sorted(p.name for p in foreign.iterdir()) == ["theirs.txt"]


def test_recorded_but_unconfirmed_folder_taken_meanwhile_moves_on(connected, devserver):
    # A kill between recording the candidate and its MKCOL; meanwhile someone else took it.
    r = report_with_files(connected, "Race", [("a.txt", b"x")], "mine")
    connected.update_report_submission(r.id, remote_folder="Tella/Race")
    foreign = Path(devserver.files_root("alice")) / "Tella" / "Race"
    foreign.mkdir(parents=True)
    (foreign / "description.txt").write_bytes(b"theirs")  # same name, other content
    (done,) = submit_all(connected, r.id)
    assert done.remote_folder == "Tella/Race (2)"
    assert (foreign / "description.txt").read_bytes() == b"theirs"


def test_recorded_folder_created_before_a_kill_is_reused_not_duplicated(connected, devserver):
    # A kill between MKCOL (201) and the next step: the empty folder is ours.
    r = report_with_files(connected, "Mine", [("a.txt", b"x")], "desc")
    connected.update_report_submission(r.id, remote_folder="Tella/Mine")
    (Path(devserver.files_root("alice")) / "Tella" / "Mine").mkdir(parents=True)
    (done,) = submit_all(connected, r.id)
    assert done.remote_folder == "Tella/Mine"
    assert not layout_problems(
        server_listing(devserver.files_root("alice")), {"Tella/Mine": LAYOUT}
    )


def test_expired_chunked_upload_restarts_the_file_cleanly(tmp_path):
    pytest.importorskip("wsgidav")
    from tellakit.devserver import DevServer

    server = DevServer(tmp_path / "srv", users={"alice": "secret"}, chunk_expiry_seconds=1)
    server.start()
    vault = create_vault(tmp_path / "vault", PASSPHRASE, work_factor=10)
    try:
        connect(vault, server.url, "alice", "secret", "Tella")
        data = random_bytes(11 * MiB, 31)
        r = report_with_files(vault, "expiry", [("big.bin", data)])
        server.faults.cut_after(1000, method="PUT", path=r"/uploads/.+/00002$")
        (first,) = submit_all(vault, r.id)
        assert first.status is Status.INTERRUPTED
        old_transfer = first.attachments[0].transfer_id
        time.sleep(1.5)  # the server's cleanup drops the idle upload folder
        (done,) = submit_all(vault, r.id)
        assert done.status is Status.SUBMITTED, done.reason
        assert done.attachments[0].transfer_id != old_transfer
        tree = server_tree(server.files_root("alice"))
        assert sha256(tree["Tella/expiry/big.bin"]) == sha256(data)
        assert not layout_problems(
            tree, {"Tella/expiry": ["big.bin", "description.txt", "manifest.json"]}
        )
    finally:
        vault.close()
        server.stop()


def test_credentials_never_in_logs_events_or_reprs(vault, devserver, caplog):
    caplog.set_level(logging.DEBUG)
    password = "Pw-9f8e7d6c5b4a"
    devserver.add_user("dana", password)
    connect(vault, devserver.url, "dana", password, "Tella")
    events = []
    r = report_with_files(vault, "report", [("a.txt", b"x"), ("b.bin", random_bytes(MiB + 5))])
    devserver.faults.respond(401, method="PUT", path=r"/uploads/")
    with Submitter(vault, tuning=SMALL) as sub:
        sub.subscribe(events.append)
        sub.submit(r.id)
        assert sub.wait(r.id, timeout=60)
        texts = [caplog.text, repr(sub), repr(sub.snapshot(r.id)), *map(repr, events)]
    report = vault.get_report(r.id)
    assert report.status is Status.INTERRUPTED and report.reason  # the error path ran too
    texts += [report.reason, repr(report), repr(vault.get_connection())]
    basic = base64.b64encode(f"dana:{password}".encode()).decode()
    assert not [t for t in texts if password in t or basic in t]


def test_a_v1_fallback_upload_resumes_as_v1(connected, devserver):
    from tellakit.nextcloud import ChunkedUpload

    made: list[tuple[str, int]] = []  # (folder, protocol) of every ChunkedUpload the engine made

    class Recording(ChunkedUpload):
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            made.append((self.transfer_id, self.protocol))

    data = random_bytes(11 * MiB, 41)
    r = report_with_files(connected, "v1 resume", [("big.bin", data)])
    # A server that refuses the MKCOL with Destination (no chunking v2: fallback) ...
    devserver.faults.respond(400, method="MKCOL", path=r"/uploads/", times=1)
    devserver.faults.cut_after(1000, method="PUT", path=r"/uploads/.+/00002$")  # ... and a cut
    (first,) = submit_all(connected, r.id, chunked_upload_cls=Recording)
    assert first.status is Status.INTERRUPTED, first.reason
    stored = first.attachments[0].transfer_id
    assert stored is not None and stored.startswith("v1:"), (first.reason, list(devserver.log))
    folder = stored.removeprefix("v1:")
    made.clear()
    devserver.log.clear()
    (done,) = submit_all(connected, r.id, chunked_upload_cls=Recording)
    assert done.status is Status.SUBMITTED, done.reason
    assert made == [(folder, 1)]  # resumed the same upload folder, speaking v1
    assert len(devserver.log.filter("PUT", f"/uploads/alice/{folder}/")) == 1  # chunk 2 only
    tree = server_tree(devserver.files_root("alice"))
    assert sha256(tree["Tella/v1 resume/big.bin"]) == sha256(data)


def test_later_reports_ask_neither_capabilities_nor_the_root_again(connected, devserver):
    first = report_with_files(connected, "First", [("a.txt", b"one")])
    second = report_with_files(connected, "Second", [("a.txt", b"two")])
    third = report_with_files(connected, "Third", [("a.txt", b"three")])
    with Submitter(connected, tuning=SMALL) as sub:
        sub.submit(first.id)
        assert sub.wait(first.id, timeout=60)
        devserver.log.clear()
        sub.submit(second.id)
        assert sub.wait(second.id, timeout=60)
        # Folder, description, file, manifest: each PUT answered its SHA-256.
        assert [r.method for r in devserver.log.snapshot()] == ["MKCOL", "PUT", "PUT", "PUT"]
        # The root folder removed meanwhile: its report folder's MKCOL finds out (409).
        import shutil

        shutil.rmtree(Path(devserver.files_root("alice")) / "Tella")
        sub.submit(third.id)
        assert sub.wait(third.id, timeout=60)
    done = connected.get_report(third.id)
    assert done.status is Status.SUBMITTED, done.reason
    assert (Path(devserver.files_root("alice")) / "Tella" / "Third" / "a.txt").read_bytes() == (
        b"three"
    )
