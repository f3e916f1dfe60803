"""The notebook app: one widget holding every screen, from unlocking the vault to submission.

``App`` owns the open vault and its engine ``Submitter`` and swaps screens in its body. It is
the ``AppContext`` (ui/context.py) every screen is built with: a screen asks it to navigate;
before leaving, the app asks the screen (a report form with unsaved changes asks the person to
confirm).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import ipywidgets as w

from tellakit.engine import Submitter, connect
from tellakit.errors import TellakitError
from tellakit.reports import Status
from tellakit.ui import sessions
from tellakit.ui.common import Confirm, Message, describe_error
from tellakit.ui.connection import ConnectionForm
from tellakit.ui.defaults import ServerPrefill, default_vault_dir
from tellakit.ui.home import HomeView
from tellakit.ui.report_form import ReportForm
from tellakit.ui.report_list import ReportsView
from tellakit.ui.screen import Screen
from tellakit.ui.submitted_view import SubmittedView
from tellakit.ui.tasks import Task
from tellakit.ui.unlock import UnlockView
from tellakit.ui.upload_view import UploadView
from tellakit.vault import Vault


class App(w.VBox):
    """tellakit's notebook app. Display it as the last expression of a cell.

    ``vault_dir``: the vault folder (created on first use); by default
    ``$TELLAKIT_LAB_HOME/vault`` under ``tellakit lab``, else ``~/tellakit/vault``.
    ``server``: a URL or a :class:`ServerPrefill` to suggest in the connection form; by default
    the development server ``tellakit lab`` started, to which the app connects by itself after
    unlocking (``auto_connect``). ``submitter_options`` go to the engine's ``Submitter``.
    ``work_factor`` is passed to ``create_vault`` (tests use a small one).
    """

    def __init__(
        self,
        vault_dir: str | os.PathLike[str] | None = None,
        server: str | ServerPrefill | None = None,
        *,
        auto_connect: bool | None = None,
        work_factor: int | None = None,
        submitter_options: Mapping[str, Any] | None = None,
        update_rate: float = 10.0,
        files_root: str | os.PathLike[str] | None = None,
    ) -> None:
        self.vault_dir = Path(vault_dir) if vault_dir is not None else default_vault_dir()
        if server is None:
            self.prefill = ServerPrefill.from_env()
        elif isinstance(server, str):
            self.prefill = ServerPrefill(url=server)
        else:
            self.prefill = server
        self.auto_connect = self.prefill.complete if auto_connect is None else auto_connect
        self.update_rate = update_rate
        self.files_root = Path(files_root) if files_root is not None else Path.cwd()
        self._work_factor = work_factor
        self._submitter_options = dict(submitter_options or {})
        self.vault: Vault | Any = None
        self.submitter: Submitter | Any = None
        self.screen: Screen | None = None
        self._task: Task[Any] | None = None
        self._heading = w.HTML()
        self.lock_button = w.Button(description="Lock", icon="lock", tooltip="Lock the vault")
        self.lock_button.add_class("tk-lock")
        self.message = Message()
        self._confirm = Confirm(yes="Lock", no="Cancel")
        self._body = w.VBox()
        header = w.HBox(
            [self._heading, self.lock_button],
            layout=w.Layout(justify_content="space-between", align_items="center"),
        )
        super().__init__(
            [header, self._confirm, self.message, self._body],
            layout=w.Layout(max_width="64em", padding="4px"),
        )
        self.add_class("tellakit-app")
        self.lock_button.on_click(self._on_lock_button_click)
        self.show(UnlockView(self, self.vault_dir, work_factor=work_factor))

    def __repr__(self) -> str:
        return (
            f"<tellakit App vault_dir={str(self.vault_dir)!r} screen={type(self.screen).__name__}>"
        )

    # --- screens -------------------------------------------------------------------------------

    def show(self, screen: Screen) -> None:
        """Put ``screen`` in the body right away (the previous one is disposed)."""
        old, self.screen = self.screen, screen
        self._heading.value = f"<h2 style='margin:4px 0'>tellakit · {screen.title}</h2>"
        self.lock_button.layout.display = "none" if self.vault is None else ""
        self._body.children = (screen,)
        if old is not None and old is not screen:
            old.dispose()

    def navigate(self, make: Callable[[], Screen]) -> None:
        """Leave the current screen (if it agrees) for the one ``make()`` builds."""
        if self.screen is None:
            self.show(make())
        else:
            self.screen.request_leave(lambda: self.show(make()))

    def show_home(self) -> None:
        """Home: the connection card."""
        self.navigate(lambda: HomeView(self))

    def show_connection_form(self) -> None:
        """Add a Nextcloud server."""
        self.navigate(lambda: ConnectionForm(self, self.prefill))

    def show_reports(self, tab: str = "Drafts") -> None:
        """The reports view on ``tab`` (Drafts, Outbox or Submitted)."""
        self.navigate(lambda: ReportsView(self, tab=tab))

    def new_report(self) -> None:
        """An empty report form."""
        self.navigate(lambda: ReportForm(self, picker_start=self.files_root))

    def open_report(self, report_id: str) -> None:
        """Drafts open in the form, outbox reports in the upload view, submitted ones read-only."""
        report = self.vault.get_report(report_id)
        if report.status is Status.DRAFT:
            self.navigate(lambda: ReportForm(self, report, picker_start=self.files_root))
        elif report.status is Status.SUBMITTED:
            self.navigate(lambda: SubmittedView(self, report))
        else:
            self.show_upload(report_id)

    def show_upload(self, report_id: str) -> None:
        """The upload view of a report (live progress)."""
        self.navigate(lambda: UploadView(self, report_id))

    # --- vault and connection ---------------------------------------------------------------

    def unlocked(self, vault: Vault) -> None:
        """Called by the unlock screen: start the engine (or join the running one), go home."""
        session = sessions.join(self.vault_dir, vault, self, self._submitter_options)
        self.vault, self.submitter = session.vault, session.submitter
        self.show_home()
        # After home is shown: the check may fail at once and must replace home, not be
        # replaced by it.
        if self.vault.get_connection() is None and self.auto_connect:
            self._connect_default()

    def _connect_default(self) -> None:
        prefill, vault = self.prefill, self.vault
        self.message.show(f"Connecting to the development server {prefill.url}…")

        def done(_: object) -> None:
            self.message.clear()
            if isinstance(self.screen, HomeView):
                self.show_home()

        def failed(error: BaseException) -> None:
            self.message.error(error)
            self.show_connection_form()

        self._task = Task(
            lambda: connect(
                vault, prefill.url, prefill.login, prefill.password, prefill.root_folder
            ),
            on_done=done,
            on_error=failed,
            name="tellakit-auto-connect",
        )

    def connected(self) -> None:
        """Called by the connection form once the vault holds the connection."""
        self.show_home()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until background work started by the app or its screen has finished."""
        done = self._task is None or self._task.wait(timeout)
        screen_wait = getattr(self.screen, "wait", None)
        return (screen_wait(timeout) if screen_wait else True) and done

    # --- locking ---------------------------------------------------------------------------------

    def _on_lock_button_click(self, _: w.Button) -> None:
        if self.screen is None:
            self._ask_lock()
        else:  # a report form with unsaved changes asks first
            self.screen.request_leave(self._ask_lock)

    def _ask_lock(self) -> None:
        active = self.submitter.active() if self.submitter is not None else []
        if active:
            self._confirm.ask(
                f"{len(active)} report(s) are uploading. Locking stops them; they wait in the "
                "Outbox and resume where they stopped. Lock now?",
                self.lock,
            )
        else:
            self.lock()

    def lock(self) -> None:
        """Stop the engine, lock the vault, and show the unlock screen (in every App on it)."""
        apps = sessions.leave(self.vault_dir) if self.vault is not None else []
        for app in {self, *apps}:
            app._show_locked()

    def _show_locked(self, note: str = "", kind: str = "info") -> None:
        self.submitter = None
        self.vault = None
        self.message.clear()
        self.show(UnlockView(self, self.vault_dir, work_factor=self._work_factor))
        if note:
            self.message.show(note, kind)

    # --- quick delete ----------------------------------------------------------------------------

    def quick_delete(self) -> None:
        """Tella's quick delete: stop the uploads, destroy the vault, show that it is gone.

        The engine stops first (an upload reading a file must not hold it open), then
        ``Vault.destroy()`` makes everything unreadable and removes it. Nothing on the server
        is touched: files already there stay. Every App on this vault shows the result.
        """
        vault, submitter = self.vault, self.submitter
        if vault is None:
            return
        note, kind = "Quick delete: the vault was deleted from this computer.", "success"
        try:
            if submitter is not None:
                submitter.close()
            vault.destroy()
        except (TellakitError, OSError) as exc:
            note, kind = f"Quick delete failed: {describe_error(exc)}", "error"
        apps = sessions.leave(self.vault_dir)  # forgets the session; the engine is stopped
        for app in {self, *apps}:
            app._show_locked(note, kind)
