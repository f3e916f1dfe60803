"""The reports view: tabs, rows, paging, the row menu, outbox reasons and Resume."""

from __future__ import annotations

from typing import Any

from tellakit.reports import Status
from tellakit.ui import App
from tellakit.ui.report_form import ReportForm
from tellakit.ui.report_list import ReportsView
from tellakit.ui.upload_view import UploadView

from .helpers import settle


def _reports_view(app: App, tab: str = "Drafts", page_size: int = 25) -> ReportsView:
    view = ReportsView(app, tab=tab, page_size=page_size)
    app.show(view)
    return view


def test_rows_show_title_date_status_and_number_and_size_of_files(app: App) -> None:
    a = app.vault.import_bytes(b"x" * 1500, "a.jpg")
    b = app.vault.import_bytes(b"y" * 500, "b.txt")
    report = app.vault.create_report("Market <fire>", "", [a.id, b.id])
    view = _reports_view(app)
    [row] = view.current.rows
    assert row.title_button.description == "Market <fire>"
    text = row.children[1].value
    assert "2 files · 2.0 KB" in text and str(report.updated_at.astimezone().year) in text
    assert "Draft" in row.status.value
    assert row.resume_button is None  # only outbox rows resume


def test_each_tab_lists_its_own_reports_and_loads_only_when_shown(app: App) -> None:
    app.vault.create_report("draft")
    queued = app.vault.create_report("queued")
    app.submitter.submit_later(queued.id)
    view = _reports_view(app)
    assert view.lists["Drafts"].loaded and not view.lists["Outbox"].loaded
    assert [r.report.title for r in view.current.rows] == ["draft"]
    view.tabs.selected_index = 1
    assert view.lists["Outbox"].loaded
    assert [r.report.title for r in view.current.rows] == ["queued"]
    view.tabs.selected_index = 2
    assert view.current.rows == [] and "Nothing submitted yet" in view.current._footer.value


def test_long_lists_are_paged_with_show_more(app: App) -> None:
    for i in range(12):
        app.vault.create_report(f"r{i}")
    view = _reports_view(app, page_size=5)
    drafts = view.current
    assert len(drafts.rows) == 5 and drafts.more_button in drafts.children
    assert "5 of 12" in drafts._footer.value
    drafts.more_button.click()
    drafts.more_button.click()
    assert len(drafts.rows) == 12 and drafts.more_button not in drafts.children
    assert [r.report.title for r in drafts.rows] == [f"r{i}" for i in reversed(range(12))]


def test_outbox_rows_say_why_they_are_there(app: App) -> None:
    vault = app.vault
    later = vault.create_report("later")
    app.submitter.submit_later(later.id)
    paused = vault.create_report("paused")
    vault.set_status(paused.id, Status.QUEUED)
    vault.set_status(paused.id, Status.PAUSED)
    broken = vault.create_report("broken")
    vault.set_status(broken.id, Status.UPLOADING)
    vault.set_status(broken.id, Status.INTERRUPTED, reason="Connection lost", retryable=True)
    view = _reports_view(app, tab="Outbox")
    texts = {r.report.title: r.status.value for r in view.current.rows}
    assert "Submit later" in texts["later"]
    assert "Paused" in texts["paused"]
    assert "Interrupted: Connection lost" in texts["broken"]
    assert all(r.resume_button in r.children for r in view.current.rows)


def test_resume_on_an_outbox_row_submits_it_and_shows_its_progress(app: App) -> None:
    file = app.vault.import_bytes(b"z" * 2000, "z.txt")
    report = app.vault.create_report("resume me", "", [file.id])
    app.submitter.submit_later(report.id)
    view = _reports_view(app, tab="Outbox")
    view.current.rows[0].resume_button.click()
    assert isinstance(app.screen, UploadView)
    settle(app)
    assert app.vault.get_report(report.id).status is Status.SUBMITTED


def test_the_row_menu_opens_a_draft_in_the_form(app: App) -> None:
    report = app.vault.create_report("open me")
    view = _reports_view(app)
    view.current.rows[0].menu.choose("Open")
    assert isinstance(app.screen, ReportForm) and app.screen.report.id == report.id


def test_the_row_menu_deletes_after_confirmation(app: App) -> None:
    app.vault.create_report("keep")
    app.vault.create_report("delete me")
    view = _reports_view(app)
    row = view.current.rows[0]
    assert row.report.title == "delete me"
    row.menu.choose("Delete")
    assert view.confirm.asking and "delete me" in view.confirm.question.value
    view.confirm.no_button.click()
    assert len(app.vault.list_reports()) == 2
    view.current.rows[0].menu.choose("Delete")
    view.confirm.yes_button.click()
    assert [r.title for r in app.vault.list_reports()] == ["keep"]
    assert [r.report.title for r in view.current.rows] == ["keep"]


def test_new_report_opens_an_empty_form_and_home_goes_back(app: App) -> None:
    view = _reports_view(app)
    view.new_button.click()
    assert isinstance(app.screen, ReportForm) and app.screen.report is None
    app.screen.back_button.click()
    app.screen.back_button.click()
    assert type(app.screen).__name__ == "HomeView"


def test_the_outbox_tab_follows_the_engine_while_it_is_shown(app: App, devserver: Any) -> None:
    file = app.vault.import_bytes(b"q" * 3000, "q.txt")
    report = app.vault.create_report("live", "", [file.id])
    app.submitter.submit_later(report.id)
    view = _reports_view(app, tab="Outbox")
    app.submitter.submit(report.id)
    app.submitter.wait(report.id, timeout=30)
    view._throttle.flush()
    assert view.lists["Outbox"].rows == []
    view.tabs.selected_index = 2
    assert [r.report.id for r in view.current.rows] == [report.id]
