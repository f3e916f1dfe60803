"""Login Flow v2 approved by a person in a real browser (Debian's Chromium via Playwright)."""

from __future__ import annotations

import shutil

import pytest
import requests

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("Debian's chromium is not installed")
    raise AssertionError  # unreachable


@pytest.mark.timeout(90)
def test_person_grants_access_in_the_browser_and_the_poll_delivers(devserver):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    exe = chromium_path()
    devserver.add_user("u9", "pw9", login="frank@example.org")
    flow = requests.post(
        f"{devserver.url}/index.php/login/v2", headers={"User-Agent": "browser test"}, timeout=10
    ).json()
    poll = {"token": flow["poll"]["token"]}
    assert requests.post(flow["poll"]["endpoint"], data=poll, timeout=10).status_code == 404
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(flow["login"])
            assert "browser test" in page.content()
            page.fill("input[name=user]", "frank@example.org")
            page.fill("input[name=password]", "pw9")
            page.click("text=Grant access")
            page.wait_for_selector("text=Account connected")
        finally:
            browser.close()
    creds = requests.post(flow["poll"]["endpoint"], data=poll, timeout=10)
    assert creds.status_code == 200
    assert creds.json()["loginName"] == "frank@example.org"
    user = requests.get(
        f"{devserver.url}/ocs/v2.php/cloud/user?format=json",
        auth=("frank@example.org", creds.json()["appPassword"]),
        headers={"OCS-APIRequest": "true"},
        timeout=10,
    )
    assert user.json()["ocs"]["data"]["id"] == "u9"
