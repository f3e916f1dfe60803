"""A submitted report: read only, with each file's server path and verified checksum."""

from __future__ import annotations

import hashlib

from tellakit.ui import App
from tellakit.ui.report_list import ReportsView
from tellakit.ui.submitted_view import SubmittedView

from .helpers import settle


def test_shows_server_paths_and_checksums_and_has_nothing_to_edit(app: App) -> None:
    data = b"evidence" * 100
    file = app.vault.import_bytes(data, "ev.txt")
    report = app.vault.create_report("Done", "all good", [file.id])
    app.submitter.submit(report.id)
    settle(app, report.id)
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
