"""Server settings: add Nextcloud with a password or Login Flow v2; each failure is explained."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tellakit.sealed import fingerprint
from tellakit.ui import App, ServerPrefill
from tellakit.ui.connection import ConnectionForm
from tellakit.ui.home import HomeView
from tellakit.vault import age

from .helpers import close_app, make_app, settle, unlock, wait_until


@contextmanager
def _on_form(tmp_path: Path, prefill: ServerPrefill) -> Iterator[tuple[App, ConnectionForm]]:
    """An app unlocked, not connected, on the connection form; locked again afterwards."""
    app = make_app(tmp_path / "vault", prefill, auto_connect=False)
    try:
        unlock(app)
        app.screen.add_button.click()
        form = app.screen
        assert isinstance(form, ConnectionForm)
        yield app, form
    finally:
        close_app(app)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_form_is_prefilled_but_never_shows_the_known_password(
    tmp_path: Path, server: ServerPrefill
) -> None:
    with _on_form(tmp_path, server) as (app, form):
        assert form.url.value == server.url and form.login.value == "alice"
        assert form.folder.value == "Tella"
        assert form.password.value == ""
        assert "secret" not in repr(server) and "secret" not in form.password.placeholder
        form.connect_button.click()
        assert form.wait(20)
        assert isinstance(app.screen, HomeView) and app.screen.connected
        settings = app.vault.get_connection()
        assert settings.user_id == "alice" and settings.root_folder == "Tella"
        assert settings.auto_retry is False  # the toggle starts off


def test_automatic_resume_can_be_turned_on_when_connecting(
    tmp_path: Path, server: ServerPrefill
) -> None:
    with _on_form(tmp_path, server) as (app, form):
        assert "Resume automatically" in form.auto_retry.description
        form.auto_retry.value = True
        form.connect_button.click()
        assert form.wait(20)
        assert app.vault.get_connection().auto_retry is True


def test_a_wrong_password_shows_the_servers_refusal_and_clears_the_field(
    tmp_path: Path, devserver: Any
) -> None:
    with _on_form(tmp_path, ServerPrefill(devserver.url, "alice", "")) as (app, form):
        form.password.value = "wrong"
        form.connect_button.click()
        assert form.wait(20)
        assert app.screen is form and app.vault.get_connection() is None
        assert form.message.kind == "error"
        assert "wrong" not in form.message.text
        assert form.password.value == ""
        assert not form.connect_button.disabled


def test_an_unreachable_server_is_reported_in_the_form(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    with _on_form(tmp_path, ServerPrefill(url, "alice", "pw")) as (app, form):
        form.connect_button.click()
        assert form.wait(20)
        assert form.message.kind == "error" and form.message.text
        assert app.vault.get_connection() is None


def test_a_plain_http_remote_server_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    remote = ServerPrefill("http://cloud.example.org", "alice", "pw")
    with _on_form(tmp_path, remote) as (_, form):
        form.connect_button.click()
        assert form.wait(20)
        assert form.message.kind == "error" and "http" in form.message.text.lower()


def test_login_flow_shows_the_link_waits_and_finishes_by_itself(
    tmp_path: Path, devserver: Any
) -> None:
    with _on_form(tmp_path, ServerPrefill(devserver.url, "", "")) as (app, form):
        form.login_flow_button.click()
        wait_until(lambda: "login" in form.login_link.value.lower() and form.login_url, what="link")
        assert (
            form.login_url in form.login_link.value and 'target="_blank"' in form.login_link.value
        )
        assert form.busy and form.connect_button.disabled
        devserver.approve_login_flow("alice")
        assert form.wait(30)
        assert isinstance(app.screen, HomeView)
        settings = app.vault.get_connection()
        assert settings.is_app_password and settings.user_id == "alice"


def test_login_flow_can_be_cancelled_while_waiting(tmp_path: Path, devserver: Any) -> None:
    with _on_form(tmp_path, ServerPrefill(devserver.url, "", "")) as (app, form):
        form.login_flow_button.click()
        wait_until(lambda: bool(form.login_url), what="link")
        form.cancel_button.click()
        assert form.wait(10)
        assert form.message.text == "Login cancelled."
        assert app.vault.get_connection() is None and app.screen is form


def test_auto_connect_failure_lands_on_the_form_with_the_reason(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    app = make_app(tmp_path / "vault", ServerPrefill(url, "demo", "pw"))
    try:
        assert app.auto_connect
        unlock(app)
        assert app.wait(20)
        wait_until(lambda: isinstance(app.screen, ConnectionForm), what="form")
        assert app.message.kind == "error" and app.vault.get_connection() is None
    finally:
        close_app(app)


def test_the_organizations_recipient_shows_its_fingerprint_and_reports_are_sealed(
    tmp_path: Path, server: ServerPrefill
) -> None:
    org = age.X25519Identity.generate()
    recipient = str(org.recipient())
    with _on_form(tmp_path, server) as (app, form):
        field = form.sealing
        assert field.readable_names.layout.display == "none"  # only with recipients
        field.text.value = "age1typo"
        assert "not a valid age recipient" in field.fingerprints.value
        form.connect_button.click()  # refused before anything is sent
        assert form.message.kind == "error" and app.vault.get_connection() is None
        field.text.value = f"{recipient}\n"
        assert fingerprint(recipient) in field.fingerprints.value
        assert field.readable_names.layout.display == "flex"
        form.connect_button.click()
        assert form.wait(20)
        settings = app.vault.get_connection()
        assert settings.encrypt_to == (recipient,) and not settings.readable_names
        assert isinstance(app.screen, HomeView)
        report = app.vault.create_report("Sealed from the app", "d", [])
        app.submitter.submit(report.id)
        settle(app, report.id)
        assert app.vault.get_report(report.id).sealed_to == (recipient,)


def test_a_pasted_secret_key_is_cleared_at_once_and_never_shown(
    tmp_path: Path, server: ServerPrefill
) -> None:
    secret = str(age.X25519Identity.generate())
    with _on_form(tmp_path, server) as (_, form):
        field = form.sealing
        field.text.value = f"my key:\n{secret}"
        assert field.text.value == ""  # not kept in widget state
        shown = field.fingerprints.value + form.message.text
        assert "secret key" in shown and secret not in shown and secret.lower() not in shown


def test_login_flow_behind_a_tls_proxy_connects_and_names_the_setting(
    tmp_path: Path, proxied_devserver: Any
) -> None:
    with _on_form(tmp_path, ServerPrefill(proxied_devserver.url, "", "")) as (app, form):
        form.login_flow_button.click()
        wait_until(lambda: bool(form.login_url), what="link")
        assert form.login_url.startswith("https://")  # the server said http://
        proxied_devserver.approve_login_flow("alice")
        assert form.wait(30)
        assert isinstance(app.screen, HomeView)
        assert app.vault.get_connection().server_url == proxied_devserver.url
        assert "overwriteprotocol" in form.message.text
