"""A report's small files and description in one bulk request (engine/bulksend.py) against
the development server: what goes over the wire, per-file answers handled one by one, the
MD5 check as transport only, the fallback when the server turns bulk upload off.
(A cut or a kill mid-request: test_faults.py and test_kill.py run with bulk upload on.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_helpers import BULK, report_with_files

from tellakit.devserver import bulk as devserver_bulk
from tellakit.engine import Submitter
from tellakit.reports import FileState, Status, Verification

pytestmark = pytest.mark.timeout(90)
FILES = [("a.jpg", b"a" * 3000), ("b.jpg", b"b" * 4000), ("c.jpg", b"c" * 5000)]


def submit(vault, *reports, server=None):
    with Submitter(vault, tuning=BULK) as sub:
        for report in reports:
            if server is not None:
                server.log.clear()
            sub.submit(report.id)
            assert sub.wait(report.id, timeout=60)
    return [vault.get_report(r.id) for r in reports]


def on_server(server, report) -> dict[str, bytes]:
    folder = Path(server.files_root("alice")) / report.remote_folder
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_small_files_and_the_description_go_in_one_request_and_are_verified(connected, devserver):
    first = report_with_files(connected, "First", FILES, description="seen at dawn")
    second = report_with_files(connected, "Second", FILES, description="seen at dusk")
    _, done = submit(connected, first, second, server=devserver)
    assert done.status is Status.SUBMITTED, done.reason
    methods = [r.method for r in devserver.log.snapshot()]
    # Folder, one bulk request, the server's SHA-256 of each file it stored (the bulk MD5
    # check is transport only), the manifest: the files + 4.
    assert methods == ["MKCOL", "POST", "PATCH", "PATCH", "PATCH", "PATCH", "PUT"]
    assert len(methods) == len(FILES) + 4
    assert on_server(devserver, done) == {
        **dict(FILES),
        "description.txt": b"seen at dusk",
        "manifest.json": on_server(devserver, done)["manifest.json"],
    }
    for att in done.attachments:
        assert att.state is FileState.VERIFIED
        assert att.verification is Verification.RECALCULATED


def test_a_part_whose_md5_fails_is_sent_again_alone_and_the_others_stay(connected, devserver):
    report = report_with_files(connected, "Flipped part", FILES)
    # Into the second file's bytes: the server refuses that part (MD5) and stops there.
    body_offset = 2000 + len(FILES[0][1]) + 2000
    devserver.faults.flip_byte(body_offset, method="POST", path=r"/dav/bulk$")
    (done,) = submit(connected, report, server=devserver)
    assert done.status is Status.SUBMITTED, done.reason
    puts = [r.path.rsplit("/", 1)[-1] for r in devserver.log.filter("PUT")]
    assert "a.jpg" not in puts  # stored by the bulk request before the bad part
    assert {"b.jpg", "c.jpg"} <= set(puts)  # the refused part and the one never read
    assert {n: on_server(devserver, done)[n] for n, _ in FILES} == dict(FILES)
    assert all(a.state is FileState.VERIFIED for a in done.attachments)


def test_one_refused_name_does_not_fail_the_others(vault, tmp_path):
    """On a server without utf8mb4 the emoji name is refused in the bulk answer; the others
    are stored there, and that one goes alone, under its fallback name."""
    from tellakit.devserver import DevServer
    from tellakit.engine import connect

    with DevServer(tmp_path / "srv", users={"alice": "secret"}, profile="mysql-utf8") as srv:
        connect(vault, srv.url, "alice", "secret", "Tella")
        report = report_with_files(vault, "Names", [*FILES, ("wave 🌊.jpg", b"w" * 100)])
        (done,) = submit(vault, report, server=srv)
        assert done.status is Status.SUBMITTED, done.reason
        assert [r.status for r in srv.log.filter("POST")] == [200]
        assert [r.path.rsplit("/", 1)[-1] for r in srv.log.filter("PUT")] == [
            "wave.jpg",  # alone, with its fallback name (the emoji one was refused in bulk)
            "manifest.json",
        ]
        assert sorted(on_server(srv, done)) == [
            "a.jpg",
            "b.jpg",
            "c.jpg",
            "description.txt",
            "manifest.json",
            "wave.jpg",
        ]
        assert all(a.state is FileState.VERIFIED for a in done.attachments)


def test_a_server_that_turned_bulk_upload_off_gets_single_puts(connected, devserver):
    first = report_with_files(connected, "Before", FILES)
    later = report_with_files(connected, "After", FILES)
    with Submitter(connected, tuning=BULK) as sub:
        sub.submit(first.id)
        assert sub.wait(first.id, timeout=60)
        # The capabilities this Submitter remembers still offer bulk upload.
        devserver_bulk.set_enabled(devserver.ctx, False)
        devserver.log.clear()
        sub.submit(later.id)
        assert sub.wait(later.id, timeout=60)
    done = connected.get_report(later.id)
    assert done.status is Status.SUBMITTED, done.reason
    assert [r.status for r in devserver.log.filter("POST")] == [501]
    assert len(devserver.log.filter("PUT")) == len(FILES) + 2  # + description, manifest
    assert all(a.verification is Verification.SERVER_SHA256 for a in done.attachments)
