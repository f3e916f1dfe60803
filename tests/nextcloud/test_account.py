"""status.php, capabilities, cloud/user and app passwords against the development server."""

from __future__ import annotations

from typing import Any

import pytest

from tellakit.errors import (
    AuthenticationFailed,
    ServerUnavailable,
    TwoFactorRequired,
)
from tellakit.nextcloud import Credentials, NextcloudClient

from .conftest import assert_no_secret

pytestmark = pytest.mark.timeout(60)


def test_status_reports_an_installed_nextcloud(client: NextcloudClient) -> None:
    status = client.status()
    assert status["installed"] is True
    assert status["maintenance"] is False


def test_maintenance_mode_is_server_unavailable(devserver: Any, client: NextcloudClient) -> None:
    devserver.maintenance = True
    with pytest.raises(ServerUnavailable) as info:
        client.status()
    assert "maintenance" in str(info.value)
    with pytest.raises(ServerUnavailable):
        client.current_user()


def test_capabilities_advertise_chunking_and_name_rules(client: NextcloudClient) -> None:
    caps = client.capabilities()
    assert caps.supports_chunking
    assert caps.max_chunk_size is None or caps.max_chunk_size > 0
    rules = caps.name_rules
    assert {"/", "\\"} <= rules.forbidden_characters
    assert ".part" in rules.forbidden_extensions
    assert ".htaccess" in rules.forbidden_names


def test_user_id_comes_from_cloud_user_not_login_or_display_name(devserver: Any) -> None:
    devserver.add_user("u7f3a", "pw-of-bob", login="bob@example.org", display_name="Bob Smith")
    creds = Credentials(devserver.url, "bob@example.org", "pw-of-bob")
    with NextcloudClient(creds) as bob:
        info = bob.current_user()
        assert info.id == "u7f3a"
        assert info.display_name == "Bob Smith"
        assert bob.user_id == "u7f3a"
        assert bob.files_url("x").endswith("/remote.php/dav/files/u7f3a/x")
        assert bob.mkcol("made-by-bob") is True
    assert (devserver.files_root("u7f3a") / "made-by-bob").is_dir()


def test_wrong_password_is_authentication_failed(devserver: Any) -> None:
    creds = Credentials(devserver.url, "alice", "not-the-password")
    with NextcloudClient(creds) as bad, pytest.raises(AuthenticationFailed) as info:
        bad.current_user()
    message = str(info.value)
    assert "app password" in message and "Login Flow" in message
    assert_no_secret(message, "not-the-password")
    assert_no_secret(repr(bad), "not-the-password")
    assert_no_secret(repr(creds), "not-the-password")


def test_two_factor_account_with_main_password_points_to_app_passwords(devserver: Any) -> None:
    devserver.add_user("carol", "carols-main-pw", two_factor=True)
    carol = NextcloudClient(Credentials(devserver.url, "carol", "carols-main-pw"))
    with carol, pytest.raises((TwoFactorRequired, AuthenticationFailed)) as info:
        carol.current_user()
    assert "app password" in str(info.value)
    assert_no_secret(str(info.value), "carols-main-pw")
    # the same account works with an app password
    app_pw = devserver.create_app_password("carol")
    with NextcloudClient(Credentials(devserver.url, "carol", app_pw)) as carol:
        assert carol.current_user().id == "carol"


def test_revoked_app_password_stops_working(devserver: Any) -> None:
    app_pw = devserver.create_app_password("alice")
    with NextcloudClient(Credentials(devserver.url, "alice", app_pw)) as c:
        assert c.current_user().id == "alice"
        c.revoke_app_password()
    with NextcloudClient(Credentials(devserver.url, "alice", app_pw)) as c:
        with pytest.raises(AuthenticationFailed) as info:
            c.current_user()
        assert_no_secret(str(info.value), app_pw)
