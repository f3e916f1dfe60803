"""connect / Login Flow / disconnect against the development server."""

from __future__ import annotations

import logging
import threading

import pytest

from tellakit.engine import Submitter, connect, disconnect, finish_login, start_login
from tellakit.errors import (
    AuthenticationFailed,
    ConnectionSettingsError,
    NameRejected,
    NoConnection,
    TwoFactorRequired,
)
from tellakit.nextcloud import Credentials, NextcloudClient
from tellakit.reports import Status
from tellakit.vault import age


def test_connect_stores_user_id_and_creates_root_folder(vault, devserver):
    devserver.add_user("u-42", "pw", login="ana@example.org", display_name="Ana Display")
    settings = connect(vault, devserver.url, "ana@example.org", "pw", "Org/Tella")
    assert settings.user_id == "u-42"  # from cloud/user: neither the login nor display name
    assert not settings.is_app_password
    assert (devserver.files_root("u-42") / "Org" / "Tella").is_dir()
    assert vault.get_connection() == settings


def test_connect_reuses_an_existing_root_folder(vault, devserver):
    (devserver.files_root("alice") / "Tella").mkdir()
    (devserver.files_root("alice") / "Tella" / "old.txt").write_bytes(b"keep")
    connect(vault, devserver.url, "alice", "secret", "Tella")
    assert (devserver.files_root("alice") / "Tella" / "old.txt").read_bytes() == b"keep"


def test_one_connection_per_vault(vault, devserver):
    connect(vault, devserver.url, "alice", "secret", "Tella")
    with pytest.raises(ConnectionSettingsError):
        connect(vault, devserver.url, "alice", "secret", "Other")


def test_connect_with_encrypt_to_stores_canonical_recipients(vault, devserver):
    identity = age.X25519Identity.generate()
    recipient = str(identity.recipient())
    settings = connect(
        vault,
        devserver.url,
        "alice",
        "secret",
        "Tella",
        encrypt_to=[f"  {recipient}\n", recipient],  # pasted twice, with white space
        readable_names=True,
    )
    assert settings.encrypt_to == (recipient,) and settings.readable_names
    assert vault.get_connection() == settings


@pytest.mark.parametrize("login_flow", [False, True])
def test_a_bad_recipient_is_refused_before_any_request(vault, devserver, login_flow):
    identity = age.X25519Identity.generate()
    for bad in ("age1typo", str(identity)):
        with pytest.raises(ConnectionSettingsError) as info:
            connect(
                vault,
                devserver.url,
                "alice",
                "secret",
                "Tella",
                encrypt_to=[bad],
                login_flow=login_flow,
                on_login_url=lambda url: None,
            )
        assert str(identity) not in str(info.value)  # a pasted secret key is never echoed
    assert devserver.log.snapshot() == [] and vault.get_connection() is None


def test_wrong_password_stores_nothing(vault, devserver):
    with pytest.raises(AuthenticationFailed) as info:
        connect(vault, devserver.url, "alice", "not-the-password", "Tella")
    assert "not-the-password" not in str(info.value)
    assert vault.get_connection() is None


def test_two_factor_account_needs_login_flow(vault, devserver):
    devserver.add_user("bob", "bobpw", two_factor=True)
    # TwoFactorRequired when the server says so; a plain 401 otherwise, whose message points to
    # Login Flow either way.
    with pytest.raises((TwoFactorRequired, AuthenticationFailed)) as info:
        connect(vault, devserver.url, "bob", "bobpw", "Tella")
    assert "Login Flow" in str(info.value)
    assert vault.get_connection() is None


def test_refused_root_folder_name(vault, devserver):
    with pytest.raises(NameRejected):
        connect(vault, devserver.url, "alice", "secret", "bad.part")
    with pytest.raises(NameRejected):
        connect(vault, devserver.url, "alice", "secret", "  ")
    assert vault.get_connection() is None


def _approve_when_started(devserver, uid: str, urls: list[str]) -> threading.Thread:
    def approve() -> None:
        for _ in range(200):
            if urls:
                devserver.approve_login_flow(uid)
                return
            threading.Event().wait(0.05)

    t = threading.Thread(target=approve, daemon=True)
    t.start()
    return t


@pytest.mark.timeout(60)
def test_login_flow_stores_an_app_password_never_the_main_password(vault, devserver):
    devserver.add_user("bob", "main-password", two_factor=True)
    urls: list[str] = []
    _approve_when_started(devserver, "bob", urls)
    settings = connect(
        vault,
        devserver.url,
        None,
        None,
        "Tella",
        login_flow=True,
        on_login_url=urls.append,
        login_timeout=30,
    )
    assert urls and urls[0].startswith(devserver.url)
    assert settings.is_app_password and settings.user_id == "bob"
    assert settings.password != "main-password"
    assert "main-password" not in repr(settings) and settings.password not in repr(settings)


@pytest.mark.timeout(60)
def test_disconnect_revokes_the_app_password_and_keeps_reports(vault, devserver):
    flow = start_login(devserver.url)
    devserver.approve_login_flow("alice")
    settings = finish_login(vault, flow, "Tella", timeout=10, interval=0.1)
    report = vault.create_report("kept", "x")
    assert disconnect(vault) is True
    assert vault.get_connection() is None
    assert vault.get_report(report.id).title == "kept"
    creds = Credentials(devserver.url, settings.login, settings.password)
    with NextcloudClient(creds) as client, pytest.raises(AuthenticationFailed):
        client.current_user()  # the revoked app password no longer works
    with pytest.raises(NoConnection):
        disconnect(vault)


def test_password_connection_disconnects_without_revoking(vault, devserver):
    connect(vault, devserver.url, "alice", "secret", "Tella")
    assert disconnect(vault) is False
    assert vault.get_connection() is None


def test_credentials_never_in_logs_or_reprs(vault, devserver, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "s3cr3t-Value-xyz"
    devserver.add_user("carol", secret)
    with pytest.raises(AuthenticationFailed) as info:
        connect(vault, devserver.url, "carol", secret + "-wrong", "Tella")
    settings = connect(vault, devserver.url, "carol", secret, "Tella")
    texts = [caplog.text, repr(settings), str(info.value), repr(info.value), repr(vault)]
    assert not any(secret in t for t in texts)


@pytest.mark.timeout(60)
def test_login_flow_behind_a_tls_proxy_ends_connected_over_https(vault, proxied_devserver):
    """Nextcloud behind a TLS proxy without overwriteprotocol hands out http:// addresses;
    tellakit.start_login / finish_login use their https form and end connected."""
    import tellakit

    srv = proxied_devserver
    assert srv.url.startswith("https://")
    flow = tellakit.start_login(srv.url)
    assert flow.upgraded_to_https
    assert flow.login_url.startswith("https://") and flow.poll_endpoint.startswith("https://")
    srv.approve_login_flow("alice")
    settings = tellakit.finish_login(vault, flow, "Tella", timeout=20, interval=0.1)
    assert settings.server_url == srv.url and settings.is_app_password
    report = vault.create_report("Through the proxy", "", [vault.import_bytes(b"x", "x.txt").id])
    with Submitter(vault) as sub:
        sub.submit(report.id)
        assert sub.wait(report.id, timeout=30)
    assert vault.get_report(report.id).status is Status.SUBMITTED


def test_login_flow_behind_a_proxy_whose_https_form_fails_names_the_administrators_fix(
    vault, proxied_devserver
):
    import tellakit
    from tellakit.errors import InsecureURL

    proxied_devserver.faults.respond(502, method="POST", path="/login/v2/poll")
    with pytest.raises(InsecureURL) as info:
        tellakit.start_login(proxied_devserver.url)
    assert "'overwriteprotocol' => 'https'" in str(info.value)
    assert vault.get_connection() is None


def test_without_digest_is_checked_and_stored(vault, devserver):
    from tellakit.errors import ConnectionSettingsError

    with pytest.raises(ConnectionSettingsError, match="size_only"):
        connect(vault, devserver.url, "alice", "secret", "Tella", without_digest="sometimes")
    assert vault.get_connection() is None
    settings = connect(vault, devserver.url, "alice", "secret", "Tella", without_digest="size_only")
    assert settings.without_digest == "size_only"
    assert vault.get_connection().without_digest == "size_only"
