"""Login Flow v2 against the development server: start, poll until approved, once only."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tellakit.errors import LoginFlowExpired, NotNextcloud
from tellakit.nextcloud import (
    Cancelled,
    Credentials,
    NextcloudClient,
    poll_login_flow,
    start_login_flow,
)

from .conftest import assert_no_secret
from .servers import plain_html_server

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
