"""Home: the "Nextcloud" connection card (or a way to add one), and Quick delete, as on Tella's
home screen."""

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
    from tellakit.ui.context import AppContext


class HomeView(Screen):
    """Connections: a card per server (one Nextcloud at most), leading to its reports."""

    title = "Home"

    def __init__(self, ctx: AppContext) -> None:
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
        # Tella's panic button: one confirmation, then the vault is gone from this computer.
        self.quick_delete_button = w.Button(
            description="Quick delete",
            icon="bomb",
            button_style="danger",
            tooltip="Delete the whole vault from this computer now",
        )
        self.quick_delete_button.add_class("tk-quick-delete")
        self.quick_delete_confirm = Confirm(yes="Delete everything", no="Cancel")
        # Its own class: "the" confirmation of this screen (.tk-confirm) is the connection's.
        self.quick_delete_confirm.remove_class("tk-confirm")
        self.quick_delete_confirm.add_class("tk-quick-delete-confirm")
        self._task: Task[bool] | None = None
        settings = ctx.vault.get_connection() if ctx.vault is not None else None
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
        danger = [
            w.HTML(
                "<h3>Quick delete</h3><p><small>Deletes the vault from this computer at once, "
                "if it must not be found. Reports already on the server stay there.</small></p>"
            ),
            self.quick_delete_button,
            self.quick_delete_confirm,
        ]
        super().__init__(ctx, [*body, self.confirm, self.message, *danger])
        self.quick_delete_button.on_click(self._on_quick_delete_button_click)
        self.open_button.on_click(self._on_open_button_click)
        self.add_button.on_click(self._on_add_button_click)

    def _on_open_button_click(self, _: w.Button) -> None:
        self.ctx.show_reports()

    def _on_add_button_click(self, _: w.Button) -> None:
        self.ctx.show_connection_form()

    def _on_quick_delete_button_click(self, _: w.Button) -> None:
        self.quick_delete_confirm.ask(
            "Delete the vault and everything in it from this computer: every report, file and "
            "the server connection? Uploads stop first. This cannot be undone. Nothing on the "
            "Nextcloud server is touched.",
            self.ctx.quick_delete,
        )

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
        vault, submitter = self.ctx.vault, self.ctx.submitter
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
            on_done=lambda _: self.ctx.show_home(),
            on_error=failed,
            name="tellakit-disconnect",
        )
