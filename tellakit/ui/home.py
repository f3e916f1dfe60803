"""Home: the "Nextcloud" connection card (or a way to add one), as on Tella's home screen."""

from __future__ import annotations

from typing import TYPE_CHECKING

import ipywidgets as w

from tellakit.engine import disconnect
from tellakit.errors import ServerError
from tellakit.ui.common import Confirm, Menu, Message
from tellakit.ui.fmt import esc
from tellakit.ui.screen import Screen
from tellakit.ui.tasks import Task

if TYPE_CHECKING:
    from tellakit.ui.app import App


class HomeView(Screen):
    """Connections: a card per server (one Nextcloud at most), leading to its reports."""

    title = "Home"

    def __init__(self, app: App) -> None:
        self.message = Message()
        self.confirm = Confirm(yes="Delete connection")
        self.open_button = w.Button(
            description="Nextcloud",
            icon="cloud",
            button_style="info",
            layout=w.Layout(width="14em", height="3em"),
        )
        self.open_button.add_class("tk-card-open")
        self.add_button = w.Button(description="Add Nextcloud server", icon="plus")
        self.add_button.add_class("tk-add-server")
        self.menu = Menu([("Delete", self._ask_delete)])
        self._task: Task[bool] | None = None
        settings = app.vault.get_connection() if app.vault is not None else None
        self.connected = settings is not None
        if settings is not None:
            details = w.HTML(
                f"<div>{esc(settings.server_url)}<br>user <b>{esc(settings.user_id)}</b>, "
                f"folder <code>{esc(settings.root_folder)}</code></div>"
            )
            card = w.HBox(
                [self.open_button, details, self.menu],
                layout=w.Layout(
                    border="1px solid #ccc",
                    padding="8px",
                    align_items="center",
                    width="fit-content",
                ),
            )
            card.add_class("tk-connection-card")
            body: list[w.Widget] = [w.HTML("<h3>Connections</h3>"), card]
        else:
            body = [
                w.HTML(
                    "<h3>Connections</h3><p>No server yet. Add your team's Nextcloud to "
                    "send reports to it.</p>"
                ),
                self.add_button,
            ]
        super().__init__(app, [*body, self.confirm, self.message])
        self.open_button.on_click(self._on_open_button_click)
        self.add_button.on_click(self._on_add_button_click)

    def _on_open_button_click(self, _: w.Button) -> None:
        self._app.show_reports()

    def _on_add_button_click(self, _: w.Button) -> None:
        self._app.show_connection_form()

    def _ask_delete(self) -> None:
        self.confirm.ask(
            "Delete the Nextcloud connection? Its app password is revoked on the server. Your "
            "reports stay in the vault, and what was submitted stays on the server.",
            lambda: self._delete(force=False),
        )

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a running disconnect has finished."""
        return self._task is None or self._task.wait(timeout)

    def _delete(self, *, force: bool) -> None:
        vault, submitter = self._app.vault, self._app.submitter
        self.message.show("Deleting the connection…")

        def failed(error: BaseException) -> None:
            self.message.error(error)
            if isinstance(error, ServerError) and not force:
                self.confirm.ask(
                    "The server could not be told to revoke the app password. Forget the "
                    "connection anyway? (Revoke it later in Nextcloud's security settings.)",
                    lambda: self._delete(force=True),
                )

        self._task = Task(
            lambda: disconnect(vault, force=force, submitter=submitter),
            on_done=lambda _: self._app.show_home(),
            on_error=failed,
            name="tellakit-disconnect",
        )
