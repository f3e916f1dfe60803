"""Login Flow v2 against the development server: start, poll until approved, once only."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tellakit.errors import InsecureURL, LoginFlowExpired, NotNextcloud
from tellakit.nextcloud import (
    Cancelled,
    Credentials,
    NextcloudClient,
    poll_login_flow,
    start_login_flow,
)
from tellakit.nextcloud.loginflow import https_form

from .conftest import assert_no_secret
from .servers import login_flow_server, plain_html_server

pytestmark = pytest.mark.timeout(60)


def test_login_flow_grants_an_app_password_once(devserver: Any) -> None:
    flow = start_login_flow(devserver.url, user_agent="tellakit test")
    assert flow.login_url.startswith(devserver.url)
    assert flow.token not in repr(flow)
    result: dict[str, Any] = {}

    def poll() -> None:
        try:
            result["creds"] = poll_login_flow(flow, timeout=20, interval=0.05)
        except Exception as exc:  # surfaced by the assertions below
            result["error"] = exc

    thread = threading.Thread(target=poll)
    thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # wait until the client has polled unsuccessfully
        if sum(1 for r in devserver.log if r.path.endswith("/poll") and r.status == 404) >= 2:
            break
        time.sleep(0.02)
    devserver.approve_login_flow("alice")
    thread.join(15)
    assert "error" not in result, result.get("error")
    creds: Credentials = result["creds"]
    assert creds.login == "alice"
    assert creds.password != "secret" and len(creds.password) >= 32
    assert_no_secret(repr(creds), creds.password)
    with NextcloudClient(creds) as c:
        assert c.current_user().id == "alice"
    # delivered once: polling again finds nothing and runs out of time
    with pytest.raises(LoginFlowExpired):
        poll_login_flow(flow, timeout=0.3, interval=0.05)


def test_unapproved_flow_expires(devserver: Any) -> None:
    flow = start_login_flow(devserver.url)
    with pytest.raises(LoginFlowExpired) as info:
        poll_login_flow(flow, timeout=0.3, interval=0.05)
    assert_no_secret(str(info.value), flow.token)


def test_polling_can_be_cancelled(devserver: Any) -> None:
    flow = start_login_flow(devserver.url)
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    with pytest.raises(Cancelled):
        poll_login_flow(flow, timeout=20, interval=0.05, cancel=cancel)


def test_login_flow_on_a_non_nextcloud_server() -> None:
    with plain_html_server() as url, pytest.raises(NotNextcloud):
        start_login_flow(url)


# --- behind a TLS-terminating proxy (the behind-proxy profile, reached over https) ---------


@pytest.fixture
def proxied(proxied_devserver: Any) -> Any:
    """A behind-proxy server over TLS (its self-signed certificate trusted as an org's CA)."""
    return proxied_devserver


def test_http_urls_behind_a_tls_proxy_are_used_in_their_https_form(proxied: Any) -> None:
    flow = start_login_flow(proxied.url)
    assert flow.upgraded_to_https
    assert flow.poll_endpoint == f"{proxied.url}/index.php/login/v2/poll"
    assert flow.login_url.startswith(f"{proxied.url}/index.php/login/v2/flow/")
    proxied.approve_login_flow("alice")
    creds = poll_login_flow(flow, timeout=10, interval=0.05)
    assert creds.server_url == proxied.url  # the granted http:// server, in its https form
    with NextcloudClient(creds) as client:
        assert client.current_user().id == "alice"


def test_when_the_https_form_fails_the_error_names_overwriteprotocol(proxied: Any) -> None:
    proxied.faults.respond(502, method="POST", path="/login/v2/poll")
    with pytest.raises(InsecureURL) as info:
        start_login_flow(proxied.url)
    assert "'overwriteprotocol' => 'https'" in str(info.value)
    assert "config.php" in str(info.value)


def test_https_form_only_for_http_urls_on_the_same_host() -> None:
    base = "https://cloud.example.org:8443/nc"
    assert (
        https_form("http://cloud.example.org/nc/index.php/login/v2/poll", base)
        == "https://cloud.example.org:8443/nc/index.php/login/v2/poll"
    )
    assert https_form("http://internal:8080/index.php/login/v2/poll", base) is None
    assert https_form("https://cloud.example.org/x", base) is None  # nothing to upgrade
    assert https_form("http://cloud.example.org/x", "http://cloud.example.org") is None


def test_http_urls_on_another_host_are_refused_naming_the_fix(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = {
        "poll": {"token": "t" * 128, "endpoint": "http://backend:8080/index.php/login/v2/poll"},
        "login": "http://backend:8080/index.php/login/v2/flow/" + "l" * 128,
    }
    with login_flow_server(tmp_path, answer) as (url, cert):
        monkeypatch.setenv("TELLAKIT_CA_BUNDLE", str(cert))
        with pytest.raises(InsecureURL) as info:
            start_login_flow(url)
    assert "backend" in str(info.value) and "overwriteprotocol" in str(info.value)
