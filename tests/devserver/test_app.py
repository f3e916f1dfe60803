"""Server-wide routes and modes: status.php, maintenance (503), brute force (429), 404."""

from __future__ import annotations

import requests

from tests.devserver.helpers import dav, files_url


def test_status_php(devserver):
    r = requests.get(f"{devserver.url}/status.php", timeout=10)
    body = r.json()
    assert body["installed"] is True and body["productname"] == "Nextcloud"
    assert body["maintenance"] is False
    assert body["version"].count(".") == 3


def test_maintenance_mode_answers_503_everywhere_but_status(devserver):
    devserver.maintenance = True
    assert requests.get(f"{devserver.url}/status.php", timeout=10).json()["maintenance"] is True
    r = dav("PROPFIND", files_url(devserver))
    assert r.status_code == 503
    assert "System in maintenance mode." in r.text
    ocs = requests.get(
        f"{devserver.url}/ocs/v2.php/cloud/user?format=json",
        auth=("alice", "secret"),
        headers={"OCS-APIRequest": "true"},
        timeout=10,
    )
    assert ocs.status_code == 503
    assert ocs.headers["X-Nextcloud-Maintenance-Mode"] == "1"
    devserver.maintenance = False
    assert dav("PROPFIND", files_url(devserver)).status_code == 207


def test_brute_force_protection_answers_429_after_failures(tmp_path):
    from tellakit.devserver import DevServer

    with DevServer(tmp_path, brute_force_protection=True) as srv:
        codes = [
            dav("PROPFIND", files_url(srv), auth=("alice", "bad")).status_code for _ in range(6)
        ]
        assert codes[:5] == [401] * 5
        assert codes[5] == 429
        blocked = dav("PROPFIND", files_url(srv))  # even the right password, for a while
        assert blocked.status_code == 429
        assert "TooManyRequests" in blocked.text
        srv.reset_brute_force()
        assert dav("PROPFIND", files_url(srv)).status_code == 207


def test_without_brute_force_protection_failures_stay_401(devserver):
    codes = {
        dav("PROPFIND", files_url(devserver), auth=("alice", "bad")).status_code for _ in range(7)
    }
    assert codes == {401}


def test_unknown_paths_are_404(devserver):
    assert requests.get(f"{devserver.url}/nothing/here", timeout=10).status_code == 404
    assert dav("PROPFIND", f"{devserver.url}/remote.php/other").status_code == 404
