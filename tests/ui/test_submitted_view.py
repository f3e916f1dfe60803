"""A submitted report: read only, with each file's server path and how it was verified."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import ipywidgets as w

from tellakit.reports import Report
from tellakit.sealed import fingerprint, set_encrypt_to
from tellakit.ui import App, ServerPrefill
from tellakit.ui.connection import ConnectionForm
from tellakit.ui.report_list import ReportsView
from tellakit.ui.submitted_view import SubmittedView
from tellakit.ui.upload_view import UploadView
from tellakit.vault import age

from .helpers import close_app, make_app, settle, unlock


def _submitted(app: App, data: bytes, name: str, title: str, description: str = "") -> Report:
    """A report of one file ``name`` holding ``data``, submitted and settled."""
    file = app.vault.import_bytes(data, name)
    report = app.vault.create_report(title, description, [file.id])
    app.submitter.submit(report.id)
    settle(app, report.id)
    return report


def test_shows_server_paths_and_checksums_and_has_nothing_to_edit(app: App) -> None:
    data = b"evidence" * 100
    _submitted(app, data, "ev.txt", "Done", "all good")
    app.show_reports("Submitted")
    app.screen.current.rows[0].title_button.click()
    view = app.screen
    assert isinstance(view, SubmittedView)
    table = view.children[2].value
    assert "Tella/Done/ev.txt" in table
    assert hashlib.sha256(data).hexdigest() in table.lower()
    assert "✓" in table
    editable = [
        c
        for c in _walk(view)
        if hasattr(c, "value") and type(c).__name__ in ("Text", "Textarea", "FileUpload")
    ]
    assert editable == []
    view.delete_button.click()
    assert "stays" in view.confirm.question.value
    view.confirm.yes_button.click()
    assert app.vault.list_reports() == [] and isinstance(app.screen, ReportsView)


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def test_a_sealed_report_says_so_while_it_uploads_and_once_submitted(app: App) -> None:
    recipient = str(age.X25519Identity.generate().recipient())
    set_encrypt_to(app.vault, [recipient])
    data = b"sealed evidence" * 100
    file = app.vault.import_bytes(data, "ev.txt")
    report = app.vault.create_report("Sealed", "for the organization", [file.id])
    app.submitter.submit(report.id)
    app.show_upload(report.id)
    upload = app.screen
    assert isinstance(upload, UploadView)
    shown = "".join(getattr(c, "value", "") for c in _walk(upload) if isinstance(c, w.HTML))
    assert "Sealed" in shown and fingerprint(recipient) in shown
    settle(app, report.id)
    app.show_reports("Submitted")
    app.screen.current.rows[0].title_button.click()
    view = app.screen
    assert isinstance(view, SubmittedView)
    info, table = view.children[1].value, view.children[2].value
    assert "Sealed" in info and fingerprint(recipient) in info
    sent = app.vault.get_report(report.id).attachments[0]
    assert sent.remote_path and sent.remote_path.endswith("/1.age") and sent.remote_path in table
    assert f"SHA256:{sent.sealed_sha256}" in table and "of the sealed file" in table


def test_a_readable_report_says_the_host_can_read_it(app: App) -> None:
    _submitted(app, b"clear", "c.txt", "Clear")
    app.show_reports("Submitted")
    app.screen.current.rows[0].title_button.click()
    assert "can read it" in app.screen.children[1].value


def _rows(table: str) -> dict[str, str]:
    """File name -> the text of its row (tags dropped)."""
    rows = re.findall(r"<tr><td>(.*?)</td>(.*?)</tr>", table)
    return {name: re.sub(r"<[^>]+>", " ", rest) for name, rest in rows}


def test_each_level_of_verification_reads_differently(app: App) -> None:
    data = b"photo" * 100
    report = _submitted(app, data, "photo.jpg", "Levels")
    row = _rows(SubmittedView(app, app.vault.get_report(report.id)).children[2].value)
    # This server offers bulk upload; the small file's SHA-256 was recalculated there.
    assert "✓ recalculated by the server" in row["photo.jpg"]


def test_a_file_checked_by_its_size_only_never_gets_a_check_mark(tmp_path: Path) -> None:
    """On a server that computes no checksum, with the form's "size only" choice."""
    from tellakit.devserver import DevServer

    with DevServer(tmp_path / "srv", users={"alice": "secret"}, profile="nextcloud-old") as srv:
        prefill = ServerPrefill(srv.url, "alice", "secret")
        app = make_app(tmp_path / "vault", prefill, auto_connect=False)
        try:
            unlock(app)
            app.screen.add_button.click()
            form = app.screen
            assert isinstance(form, ConnectionForm)
            form.without_digest.value = "size_only"
            form.connect_button.click()
            assert form.wait(20)
            assert app.vault.get_connection().without_digest == "size_only"
            report = _submitted(app, b"evidence" * 100, "ev.txt", "Size only")
            view = SubmittedView(app, app.vault.get_report(report.id))
            row = _rows(view.children[2].value)["ev.txt"]
            assert "size checked, content not verified" in row
            assert "✓" not in row and "SHA256:" not in row
        finally:
            close_app(app)
