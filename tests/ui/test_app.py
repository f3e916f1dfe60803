"""The App: one engine per vault folder, locking, and navigation guards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tellakit.reports import Status
from tellakit.ui import App, ServerPrefill
from tellakit.ui.report_form import ReportForm
from tellakit.ui.unlock import UnlockView

from .helpers import close_app, make_app, unlock, wait_until

MiB = 1024 * 1024


def test_a_second_app_on_the_same_vault_joins_the_running_engine(
    app: App, server: ServerPrefill
) -> None:
    again = make_app(app.vault_dir, server)
    try:
        unlock(again)
        assert again.submitter is app.submitter and again.vault is app.vault
        again.lock()
        assert app.vault is None and isinstance(app.screen, UnlockView)
    finally:
        close_app(again)


def test_a_wrong_passphrase_does_not_join_the_open_session(app: App, server: ServerPrefill) -> None:
    again = make_app(app.vault_dir, server)
    try:
        unlock(again, "not the passphrase")
        assert again.vault is None and again.screen.message.kind == "error"
    finally:
        close_app(again)


def test_lock_with_running_uploads_asks_and_leaves_them_resumable(app: App, devserver: Any) -> None:
    devserver.faults.bandwidth(1 * MiB)
    file = app.vault.import_bytes(b"u" * (8 * MiB), "big.bin")
    report = app.vault.create_report("running", "", [file.id])
    app.submitter.submit(report.id)
    wait_until(lambda: app.submitter.snapshot(report.id).bytes_sent > 0, what="upload")
    app.lock_button.click()
    assert app._confirm.asking and "uploading" in app._confirm.question.value
    app._confirm.yes_button.click()
    assert isinstance(app.screen, UnlockView)
    unlock(app)
    stored = app.vault.get_report(report.id)
    assert stored.status in (Status.INTERRUPTED, Status.PAUSED) and stored.in_outbox


def test_lock_from_a_form_with_unsaved_changes_asks_first(app: App, tmp_path: Path) -> None:
    app.new_report()
    form = app.screen
    assert isinstance(form, ReportForm)
    form.title_input.value = "not saved"
    app.lock_button.click()
    assert app.screen is form and form.confirm.asking
    form.confirm.yes_button.click()
    assert isinstance(app.screen, UnlockView)
