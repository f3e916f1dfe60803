"""The upload view: bars per file and for the report, Pause/Resume, Delete, live reopening."""

from __future__ import annotations

import os
from typing import Any

from tellakit.reports import Status
from tellakit.ui import App
from tellakit.ui.fmt import human_size
from tellakit.ui.report_list import ReportsView
from tellakit.ui.submitted_view import SubmittedView
from tellakit.ui.upload_view import UploadView

from .helpers import settle, wait_until

MiB = 1024 * 1024


def _report(app: App, sizes: list[int], title: str = "Upload") -> str:
    ids = [app.vault.import_bytes(os.urandom(n), f"f{i}.bin").id for i, n in enumerate(sizes)]
    return app.vault.create_report(title, "desc", ids).id


def test_every_bar_reaches_100_percent_and_the_report_is_submitted(app: App) -> None:
    report_id = _report(app, [MiB + 200_000, 1_000])  # one chunked, one single PUT
    app.submitter.submit(report_id)
    app.show_upload(report_id)
    view = app.screen
    assert isinstance(view, UploadView) and len(view.file_rows) == 2
    settle(app, report_id)
    assert view.state == "submitted" and "Submitted" in view.status.value
    assert [r.bar.value for r in view.file_rows.values()] == [100.0, 100.0]
    assert view.total_row.bar.value == 100.0
    total = human_size(MiB + 201_000)
    assert f"{total} of {total} · 100%" in view.total_row.detail.value
    assert all("verified" in r.detail.value for r in view.file_rows.values())
    assert view.pause_button.layout.display == "none"
    view.view_button.click()
    assert isinstance(app.screen, SubmittedView)


def test_pause_stops_a_capped_upload_and_resume_finishes_it(app: App, devserver: Any) -> None:
    # Larger than the loopback socket buffers, so the body is still on its way when paused.
    devserver.faults.bandwidth(1 * MiB)
    report_id = _report(app, [6 * MiB])
    app.submitter.submit(report_id)
    app.show_upload(report_id)
    view = app.screen
    row = next(iter(view.file_rows.values()))
    wait_until(lambda: (view.flush(), row.bar.value)[1] > 0, what="first bytes")
    view.pause_button.click()
    assert app.vault.get_report(report_id).status is Status.PAUSED
    assert view.state == "paused" and view.resume_button.layout.display == ""
    assert view.pause_button.layout.display == "none"
    assert "Paused" in view.status.value
    devserver.faults.bandwidth(None)
    # The server may hold the whole chunk from socket buffers; the engine's tests check that
    # a pause cuts mid-body. Here: the request has ended, so resuming continues from it.
    wait_until(lambda: devserver.log.filter("PUT", "/uploads/"), what="server saw the drop")
    view.resume_button.click()
    settle(app, report_id)
    assert view.state == "submitted" and row.bar.value == 100.0


def test_closing_the_view_does_not_stop_the_upload(app: App, devserver: Any) -> None:
    devserver.faults.bandwidth(512 * 1024)
    report_id = _report(app, [600_000])
    app.submitter.submit(report_id)
    app.show_upload(report_id)
    app.screen.back_button.click()
    assert isinstance(app.screen, ReportsView)
    devserver.faults.bandwidth(None)
    assert app.submitter.wait(report_id, timeout=30)
    assert app.vault.get_report(report_id).status is Status.SUBMITTED


def test_reopening_shows_the_live_state_of_a_running_upload(app: App, devserver: Any) -> None:
    devserver.faults.bandwidth(1 * MiB)
    report_id = _report(app, [8 * MiB])  # more than the socket buffers hold
    app.submitter.submit(report_id)
    wait_until(lambda: app.submitter.snapshot(report_id).bytes_sent > 0, what="progress")
    app.show_upload(report_id)
    view = app.screen
    row = next(iter(view.file_rows.values()))
    opened_at = row.bar.value
    assert view.state == "uploading" and 0 < opened_at < 100
    assert view.pause_button.layout.display == ""
    # Events keep arriving in the reopened view.
    wait_until(lambda: (view.flush(), row.bar.value)[1] > opened_at, what="live events")
    app.submitter.delete(report_id)


def test_delete_explains_that_server_files_stay_and_deletes_locally(
    app: App, devserver: Any
) -> None:
    devserver.faults.bandwidth(256 * 1024)
    report_id = _report(app, [1 * MiB])
    app.submitter.submit(report_id)
    app.show_upload(report_id)
    view = app.screen
    view.delete_button.click()
    question = view.confirm.question.value
    assert "already on the Nextcloud server" in question and "stay" in question
    view.confirm.yes_button.click()
    assert isinstance(app.screen, ReportsView)
    assert report_id not in {r.id for r in app.vault.list_reports()}


def test_an_interrupted_upload_shows_the_reason_and_offers_resume(app: App, devserver: Any) -> None:
    devserver.faults.respond(507, method="PUT", times=10)
    report_id = _report(app, [1000])
    app.submitter.submit(report_id)
    app.show_upload(report_id)
    view = app.screen
    settle(app, report_id)
    report = app.vault.get_report(report_id)
    assert report.status is Status.INTERRUPTED and report.reason
    assert view.state == "interrupted" and report.reason in view.status.value.replace("&#x27;", "'")
    assert view.resume_button.layout.display == ""
    devserver.faults.clear()
    view.resume_button.click()
    settle(app, report_id)
    assert view.state == "submitted"


def test_rows_say_how_each_file_was_verified_and_a_size_check_gets_no_check_mark() -> None:
    from tellakit.reports import FileState, Verification
    from tellakit.ui.upload_view import ProgressRow

    row = ProgressRow("a.bin", 3 * MiB, css="tk-file-bar")
    row.update(3 * MiB, 0.0, FileState.UPLOADED, verify_bytes=MiB)
    assert "verifying: downloaded 1.0 MB of 3.1 MB" in row.detail.value  # a download verifies
    row.update(3 * MiB, 0.0, FileState.VERIFIED, verification=Verification.DOWNLOAD)
    assert "verified ✓ (downloaded and hashed)" in row.detail.value
    assert row.bar.bar_style == "success"
    row.update(3 * MiB, 0.0, FileState.SIZE_CHECKED, verification=Verification.SIZE_ONLY)
    assert "size checked, content not verified" in row.detail.value
    assert "✓" not in row.detail.value and row.bar.bar_style == "warning"


def test_a_report_with_size_only_files_is_not_announced_as_verified(app: App) -> None:
    report_id = _report(app, [1_000])
    app.submitter.submit(report_id)
    settle(app, report_id)
    app.show_upload(report_id)
    view = app.screen
    assert "verified" in view.status.value and "✓" in view.status.value
    view.render_state("submitted", None, size_only=1)
    assert "✓" not in view.status.value
    assert "1 of them size checked, content not verified" in view.status.value
