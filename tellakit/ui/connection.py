"""Add the Nextcloud server: URL, login, password and folder name, or Login Flow v2; and,
optionally, the organization's age recipients reports are sealed to (recipients.py).

Every check (is it Nextcloud, may we log in, may the folder be created) happens in
``tellakit.engine.connect``; the form shows ``str(error)`` of what it raises.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from tellakit.engine import connect, finish_login, start_login
from tellakit.errors import ConnectionSettingsError
from tellakit.ui.common import Message, auto_retry_checkbox
from tellakit.ui.defaults import ServerPrefill
from tellakit.ui.fmt import esc
from tellakit.ui.recipients import RecipientsField
from tellakit.ui.screen import Screen
from tellakit.ui.tasks import Task

if TYPE_CHECKING:
    from tellakit.ui.context import AppContext
    from tellakit.vault import ConnectionSettings

#: Shown after a Login Flow whose http:// addresses (a TLS proxy in front of a Nextcloud that
#: does not know it) were used in their https form.
HTTPS_NOTE = (
    "The server handed out plain http:// login addresses; tellakit used their https form. "
    "Its administrator should set 'overwriteprotocol' => 'https' in config/config.php."
)


class ConnectionForm(Screen):
    """Settings › Servers › + › Nextcloud."""

    title = "Add Nextcloud server"

    def __init__(self, ctx: AppContext, prefill: ServerPrefill) -> None:
        self._prefill = prefill
        self._task: Task[Any] | None = None
        self._cancel_flow = threading.Event()
        wide = w.Layout(width="32em")
        style = {"description_width": "9em"}
        self.url = w.Text(
            value=prefill.url,
            description="Server URL",
            placeholder="https://cloud.example.org",
            layout=wide,
            style=style,
        )
        self.login = w.Text(
            value=prefill.login,
            description="Login",
            placeholder="user name",
            layout=wide,
            style=style,
        )
        # The known password stays in Python (see defaults.py); the field only says it is known.
        self.password = w.Password(
            description="Password",
            placeholder="(known from tellakit lab)" if prefill.password else "password",
            layout=wide,
            style=style,
        )
        self.folder = w.Text(
            value=prefill.root_folder, description="Folder name", layout=wide, style=style
        )
        self.sealing = RecipientsField(width=wide.width, label_width=style["description_width"])
        self.allow_http = w.Checkbox(
            value=False,
            description="Allow plain http to a remote host (unencrypted, not advised)",
            indent=False,
            layout=w.Layout(width="auto"),
        )
        self.auto_retry = auto_retry_checkbox(False)
        # What to do with a file the server computes no SHA-256 for (ConnectionSettings).
        self.without_digest = w.RadioButtons(
            options=[
                ("Download it back and compare (the file crosses the link twice)", "download"),
                ("Check its size only (its content is then not verified)", "size_only"),
            ],
            value="download",
            layout=w.Layout(width="auto"),
        )
        self.connect_button = w.Button(description="Connect", button_style="primary", icon="plug")
        self.login_flow_button = w.Button(
            description="Log in with Nextcloud",
            icon="external-link",
            layout=w.Layout(width="auto"),
        )
        self.cancel_button = w.Button(description="Cancel")
        self.login_link = w.HTML()
        self.message = Message()
        for widget, css in (
            (self.url, "tk-server-url"),
            (self.login, "tk-server-login"),
            (self.password, "tk-server-password"),
            (self.folder, "tk-server-folder"),
            (self.without_digest, "tk-without-digest"),
            (self.connect_button, "tk-connect"),
            (self.login_flow_button, "tk-login-flow"),
            (self.cancel_button, "tk-cancel"),
            (self.login_link, "tk-login-link"),
        ):
            widget.add_class(css)
        super().__init__(
            ctx,
            [
                w.HTML(
                    "<h3>Add a Nextcloud server</h3><p>Reports are saved in a folder of "
                    "this name on the server, one sub-folder per report.</p>"
                ),
                self.url,
                self.login,
                self.password,
                self.folder,
                self.sealing,
                self.allow_http,
                self.auto_retry,
                w.HTML(
                    "<small>If the server computes no checksum of an uploaded file "
                    "(Nextcloud 18 and older):</small>"
                ),
                self.without_digest,
                w.HBox([self.connect_button, self.login_flow_button, self.cancel_button]),
                self.login_link,
                self.message,
            ],
        )
        self.connect_button.on_click(self._on_connect_button_click)
        self.login_flow_button.on_click(self._on_login_flow_button_click)
        self.cancel_button.on_click(self._on_cancel_button_click)

    # --- state shown while a check runs ---------------------------------------------------

    @property
    def busy(self) -> bool:
        """True while a connection check or a Login Flow is running."""
        return self._task is not None and self._task.running

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the running check or Login Flow has finished (notebooks, tests)."""
        return self._task is None or self._task.wait(timeout)

    def _set_busy(self, busy: bool) -> None:
        self.connect_button.disabled = busy
        self.login_flow_button.disabled = busy

    def _done(self, settings: ConnectionSettings) -> None:
        self._set_busy(False)
        self.login_link.value = ""
        text = f"Connected to {settings.server_url} as {settings.user_id}."
        if settings.encrypt_to:
            text += " Reports will be sealed to the organization."
        if self.upgraded_to_https:
            text += f" {HTTPS_NOTE}"
        self.message.show(text, "success")
        self.ctx.connected()

    def _failed(self, error: BaseException) -> None:
        self._set_busy(False)
        self.login_link.value = ""
        if self._cancel_flow.is_set():
            self.message.show("Login cancelled.")
            return
        self.message.error(error)

    # --- handlers -----------------------------------------------------------------------

    def _options(self) -> dict[str, Any] | None:
        """The settings both ways of connecting pass alike (``auto_retry``, ``without_digest``,
        ``encrypt_to``, ``readable_names``); None (and the reason shown) when a recipient is
        wrong: nothing is sent then."""
        try:
            recipients = self.sealing.checked()
        except ConnectionSettingsError as exc:
            self.message.error(exc)
            return None
        return {
            "auto_retry": self.auto_retry.value,
            "without_digest": self.without_digest.value,
            "encrypt_to": recipients,
            "readable_names": bool(recipients) and self.sealing.readable_names.value,
        }

    def _on_connect_button_click(self, _: w.Button) -> None:
        url, login = self.url.value.strip(), self.login.value.strip()
        password = self.password.value or self._prefill.password_for(url, login) or ""
        self.password.value = ""  # never keep a password in widget state
        folder, allow_http = self.folder.value, self.allow_http.value
        options = self._options()
        if options is None:
            return
        vault = self.ctx.vault
        self.message.show(f"Checking {url}…")
        self._set_busy(True)
        self._task = Task(
            lambda: connect(
                vault,
                url,
                login,
                password,
                folder,
                allow_insecure_http=allow_http,
                **options,
            ),
            on_done=self._done,
            on_error=self._failed,
            name="tellakit-connect",
        )

    def _on_login_flow_button_click(self, _: w.Button) -> None:
        url, folder, allow_http = self.url.value.strip(), self.folder.value, self.allow_http.value
        options = self._options()
        if options is None:
            return
        vault = self.ctx.vault
        self._cancel_flow = cancel = threading.Event()
        self.message.show(f"Asking {url} for a login page…")
        self._set_busy(True)

        def flow() -> ConnectionSettings:
            started = start_login(url, allow_insecure_http=allow_http)
            self.upgraded_to_https = started.upgraded_to_https
            self.login_link.value = (
                f'<p style="overflow-wrap:anywhere">Open <a href="{esc(started.login_url)}" '
                f'target="_blank" rel="noopener noreferrer"><b>the Nextcloud login page</b></a> '
                "in your browser, log in and grant access; this form finishes by itself.<br>"
                f"<small>{esc(started.login_url)}</small></p>"
            )
            self.login_url = started.login_url
            self.message.show("Waiting for you to grant access in the browser…")
            return finish_login(
                vault,
                started,
                folder,
                cancel=cancel,
                **options,
            )

        self._task = Task(flow, on_done=self._done, on_error=self._failed, name="tellakit-login")

    def _on_cancel_button_click(self, _: w.Button) -> None:
        if self.busy:
            self._cancel_flow.set()
            return
        self.ctx.show_home()

    def dispose(self) -> None:
        """Stop a waiting Login Flow when the form goes away."""
        self._cancel_flow.set()
        super().dispose()

    login_url: str = ""
    #: the server handed out http:// Login Flow addresses; their https form was used
    upgraded_to_https: bool = False
