"""Home: the Nextcloud card leads to the reports; its menu deletes the connection."""

from __future__ import annotations

from typing import Any

from tellakit.ui import App
from tellakit.ui.connection import ConnectionForm
from tellakit.ui.home import HomeView
from tellakit.ui.report_list import ReportsView


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
