"""Login Flow v2: start, the browser page with "Grant access", the poll."""

from __future__ import annotations

import time

import requests


def start(srv, agent="tellakit-test"):
    r = requests.post(f"{srv.url}/index.php/login/v2", headers={"User-Agent": agent}, timeout=10)
    assert r.status_code == 200
    return r.json()


def poll(flow):
    return requests.post(
        flow["poll"]["endpoint"], data={"token": flow["poll"]["token"]}, timeout=10
    )


def test_poll_is_404_until_a_person_grants_access_then_delivers_once(devserver):
    devserver.add_user("u7", "pw", login="eve@example.org")
    flow = start(devserver)
    assert flow["login"].startswith(devserver.url + "/index.php/login/v2/flow/")
    assert len(flow["poll"]["token"]) == 128
    first = poll(flow)
    assert first.status_code == 404 and first.json() == []
    page = requests.get(flow["login"], timeout=10)
    assert page.status_code == 200
    assert "Grant access" in page.text and "tellakit-test" in page.text
    wrong = requests.post(
        flow["login"], data={"user": "eve@example.org", "password": "x"}, timeout=10
    )
    assert wrong.status_code == 403 and "Wrong login or password" in wrong.text
    assert poll(flow).status_code == 404
    ok = requests.post(
        flow["login"], data={"user": "eve@example.org", "password": "pw"}, timeout=10
    )
    assert ok.status_code == 200 and "connected" in ok.text
    creds = poll(flow)
    assert creds.status_code == 200
    body = creds.json()
    assert body["server"] == devserver.url
    assert body["loginName"] == "eve@example.org"
    assert len(body["appPassword"]) == 72
    assert poll(flow).status_code == 404  # delivered once
    user = requests.get(
        f"{devserver.url}/ocs/v2.php/cloud/user?format=json",
        auth=(body["loginName"], body["appPassword"]),
        headers={"OCS-APIRequest": "true"},
        timeout=10,
    )
    assert user.json()["ocs"]["data"]["id"] == "u7"


def test_approve_login_flow_api_grants_the_latest_flow(devserver):
    older = start(devserver)
    newer = start(devserver)
    devserver.approve_login_flow("alice")
    assert poll(older).status_code == 404
    assert poll(newer).json()["loginName"] == "alice"


def test_flows_expire(tmp_path):
    from tellakit.devserver import DevServer

    with DevServer(tmp_path, login_flow_expiry_seconds=0.5) as srv:
        flow = start(srv)
        time.sleep(1.0)
        page = requests.get(flow["login"], timeout=10)
        assert page.status_code == 404
        assert poll(flow).status_code == 404


def test_route_without_index_php_also_works(devserver):
    r = requests.post(f"{devserver.url}/login/v2", timeout=10)
    assert r.status_code == 200 and "poll" in r.json()
