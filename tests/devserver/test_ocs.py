"""OCS: envelopes and status codes of v1 and v2, capabilities, cloud/user, app passwords."""

from __future__ import annotations

import requests
from defusedxml import ElementTree

OCS = {"OCS-APIRequest": "true"}


def ocs(srv, method, version, route, auth=("alice", "secret"), headers=OCS, fmt="json"):
    url = f"{srv.url}/ocs/v{version}.php/{route}"
    params = {"format": fmt} if fmt else None
    return requests.request(method, url, auth=auth, headers=headers, params=params, timeout=10)


def test_capabilities_v1_and_v2_json(devserver):
    v1 = ocs(devserver, "GET", 1, "cloud/capabilities", auth=None)
    assert v1.status_code == 200
    meta = v1.json()["ocs"]["meta"]
    assert (meta["status"], meta["statuscode"]) == ("ok", 100)
    assert "totalitems" in meta
    caps = v1.json()["ocs"]["data"]["capabilities"]
    assert caps["dav"]["chunking"] == "1.0"
    assert caps["files"]["chunked_upload"]["max_size"] == 100 * 1024 * 1024
    assert caps["files"]["forbidden_filenames"] == [".htaccess"]
    assert ".part" in caps["files"]["forbidden_filename_extensions"]
    v2 = ocs(devserver, "GET", 2, "cloud/capabilities")
    assert v2.json()["ocs"]["meta"]["statuscode"] == 200
    assert "totalitems" not in v2.json()["ocs"]["meta"]
    assert v2.json()["ocs"]["data"]["version"]["major"] >= 25


def test_cloud_user_json_and_xml_and_accept_header(devserver):
    devserver.add_user("u42", "pw", login="dana@example.org", display_name="Dana", quota=1000)
    r = ocs(devserver, "GET", 2, "cloud/user", auth=("dana@example.org", "pw"))
    data = r.json()["ocs"]["data"]
    assert (data["id"], data["display-name"]) == ("u42", "Dana")
    assert data["quota"]["quota"] == 1000 and data["quota"]["free"] == 1000
    xml = ocs(devserver, "GET", 1, "cloud/user", fmt=None)
    assert xml.headers["Content-Type"].startswith("application/xml")
    root = ElementTree.fromstring(xml.content)
    assert root.findtext("meta/statuscode") == "100"
    assert root.findtext("data/id") == "alice"
    assert root.findtext("data/quota/quota") == "-3"
    accept = requests.get(
        f"{devserver.url}/ocs/v2.php/cloud/user",
        auth=("alice", "secret"),
        headers={**OCS, "Accept": "application/json"},
        timeout=10,
    )
    assert accept.json()["ocs"]["data"]["id"] == "alice"


def test_unauthenticated_user_is_997_with_version_specific_http_status(devserver):
    v1 = ocs(devserver, "GET", 1, "cloud/user", auth=("alice", "wrong"))
    assert v1.status_code == 401
    assert v1.json()["ocs"]["meta"]["statuscode"] == 997
    v2 = ocs(devserver, "GET", 2, "cloud/user", auth=None)
    assert v2.status_code == 401
    assert v2.json()["ocs"]["meta"]["status"] == "failure"


def test_missing_ocs_apirequest_header_fails_the_csrf_check(devserver):
    # SecurityMiddleware answers plain JSON; OCSMiddleware wraps only 401 and 403.
    for version in (1, 2):
        r = ocs(devserver, "GET", version, "cloud/user", headers={})
        assert r.status_code == 412
        assert r.json() == {"message": "CSRF check failed"}
    # Capabilities need no header.
    assert ocs(devserver, "GET", 2, "cloud/capabilities", headers={}).status_code == 200


def test_unknown_route_is_998(devserver):
    v2 = ocs(devserver, "GET", 2, "cloud/nothing")
    assert v2.status_code == 404 and v2.json()["ocs"]["meta"]["statuscode"] == 998
    v1 = ocs(devserver, "GET", 1, "cloud/nothing")
    assert v1.status_code == 200 and v1.json()["ocs"]["meta"]["statuscode"] == 998


def test_getapppassword_then_revoke(devserver):
    r = ocs(devserver, "GET", 2, "core/getapppassword")
    assert r.status_code == 200
    app_pw = r.json()["ocs"]["data"]["apppassword"]
    assert len(app_pw) == 72
    dav_url = f"{devserver.url}/remote.php/dav/files/alice/"
    assert requests.request("PROPFIND", dav_url, auth=("alice", app_pw), timeout=10).ok
    # An app password cannot request another one.
    again = ocs(devserver, "GET", 2, "core/getapppassword", auth=("alice", app_pw))
    assert again.status_code == 403
    # Revoking needs the app password itself.
    assert ocs(devserver, "DELETE", 2, "core/apppassword").status_code == 403
    gone = ocs(devserver, "DELETE", 2, "core/apppassword", auth=("alice", app_pw))
    assert gone.status_code == 200 and gone.json()["ocs"]["data"] == []
    after = requests.request("PROPFIND", dav_url, auth=("alice", app_pw), timeout=10)
    assert after.status_code == 401


def test_rotate_app_password(devserver):
    old = devserver.create_app_password("alice")
    r = ocs(devserver, "POST", 2, "core/apppassword/rotate", auth=("alice", old))
    new = r.json()["ocs"]["data"]["apppassword"]
    assert new != old
    assert ocs(devserver, "GET", 2, "cloud/user", auth=("alice", old)).status_code == 401
    assert ocs(devserver, "GET", 2, "cloud/user", auth=("alice", new)).status_code == 200


def test_two_factor_account_needs_an_app_password(devserver):
    devserver.add_user("tf", "pw", two_factor=True)
    assert ocs(devserver, "GET", 2, "cloud/user", auth=("tf", "pw")).status_code == 401
    app_pw = devserver.create_app_password("tf")
    assert ocs(devserver, "GET", 2, "cloud/user", auth=("tf", app_pw)).status_code == 200
