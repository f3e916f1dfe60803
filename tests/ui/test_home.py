"""Home: the Nextcloud card leads to the reports; its menu deletes the connection; Quick delete
destroys the vault."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tellakit.errors import VaultCorrupted, VaultNotFound
from tellakit.ui import App
from tellakit.ui.connection import ConnectionForm
from tellakit.ui.home import HomeView
from tellakit.ui.report_list import ReportsView
from tellakit.ui.unlock import UnlockView
from tellakit.vault import open_vault

from .helpers import PASSPHRASE, Context, MiB, settle, wait_until


def test_the_nextcloud_card_opens_the_reports_view(app: App) -> None:
    home = app.screen
    assert isinstance(home, HomeView) and home.connected
    assert home.open_button.description == "Nextcloud"
    home.open_button.click()
    assert isinstance(app.screen, ReportsView)


def test_deleting_the_connection_asks_first_and_cancel_keeps_it(app: App) -> None:
    home = app.screen
    home.menu.choose("Delete")
    assert home.confirm.asking and "reports stay" in home.confirm.question.value
    home.confirm.no_button.click()
    assert not home.confirm.asking and app.vault.get_connection() is not None


def test_confirmed_delete_forgets_the_connection_and_offers_to_add_one(
    app: App, devserver: Any
) -> None:
    home = app.screen
    home.menu.choose("Delete")
    home.confirm.yes_button.click()
    assert home.wait(20)
    assert app.vault.get_connection() is None
    assert isinstance(app.screen, HomeView) and not app.screen.connected
    app.screen.add_button.click()
    assert isinstance(app.screen, ConnectionForm)


# --- quick delete -------------------------------------------------------------------------


def test_quick_delete_asks_once_and_a_refusal_deletes_nothing(app: App) -> None:
    context = Context(app.vault)
    home = HomeView(context)  # the screen alone, on a stand-in context
    home.quick_delete_button.click()
    assert home.quick_delete_confirm.asking
    assert "cannot be undone" in home.quick_delete_confirm.question.value
    home.quick_delete_confirm.no_button.click()
    assert context.visits == [] and not home.quick_delete_confirm.asking
    assert not app.vault.locked and (app.vault_dir / "identity.age").exists()
    home.quick_delete_button.click()
    home.quick_delete_confirm.yes_button.click()
    assert context.visits == [("quick_delete",)]


def test_quick_delete_stops_uploads_destroys_the_vault_and_leaves_the_server_alone(
    app: App, devserver: Any
) -> None:
    done = app.vault.create_report("Sent before", "", [app.vault.import_bytes(b"s", "s.txt").id])
    app.submitter.submit(done.id)
    settle(app, done.id)
    devserver.faults.bandwidth(1 * MiB)
    big = app.vault.import_bytes(b"u" * (8 * MiB), "big.bin")
    running = app.vault.create_report("Running", "", [big.id])
    submitter = app.submitter
    submitter.submit(running.id)
    wait_until(lambda: submitter.snapshot(running.id).bytes_sent > 0, what="upload")
    sent_before = (devserver.files_root("alice") / "Tella" / "Sent before" / "s.txt").read_bytes()

    app.screen.quick_delete_button.click()
    app.screen.quick_delete_confirm.yes_button.click()

    deleted_at = time.time()
    assert submitter.active() == []  # the upload stopped before the vault went
    assert not app.vault_dir.exists() or list(app.vault_dir.rglob("*")) == []
    with pytest.raises((VaultNotFound, VaultCorrupted)):
        open_vault(app.vault_dir, PASSPHRASE)
    assert isinstance(app.screen, UnlockView) and app.screen.creating
    assert app.vault is None and "vault was deleted" in app.message.text
    time.sleep(1.5)  # nothing more reaches the server (the chunk in flight was cut)
    assert [r for r in devserver.log if r.time >= deleted_at] == []
    assert [r for r in devserver.log if r.method == "DELETE"] == []
    path = devserver.files_root("alice") / "Tella" / "Sent before" / "s.txt"
    assert path.read_bytes() == sent_before == b"s"
