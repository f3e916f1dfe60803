"""status.php, capabilities, cloud/user and app passwords against the development server."""

from __future__ import annotations

from typing import Any

import pytest

from tellakit.errors import (
    AuthenticationFailed,
    NotNextcloud,
    ServerUnavailable,
    TwoFactorRequired,
)
from tellakit.nextcloud import Credentials, NextcloudClient
from tellakit.nextcloud.account import parse_capabilities, parse_status, parse_user

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
    # OCS answers a plain 401; the DAV probe then finds PasswordLoginForbidden, as on Nextcloud.
    with carol, pytest.raises(TwoFactorRequired) as info:
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


# --- pure parsers -----------------------------------------------------------------------------

CAPS = {
    "version": {"major": 30, "minor": 0, "micro": 1, "string": "30.0.1"},
    "capabilities": {
        "dav": {"chunking": "1.0", "bulkupload": "1.0"},
        "files": {
            "bigfilechunking": True,
            "chunked_upload": {"max_size": 52428800, "max_parallel_count": 3},
            "forbidden_filenames": [".htaccess", "Thumbs.db"],
            "forbidden_filename_basenames": {"0": "con", "2": "aux"},
            "forbidden_filename_characters": ["\\", "/", ":"],
            "forbidden_filename_extensions": [".filepart", " "],
        },
        "checksums": {"supportedTypes": ["md5", "sha256"], "preferredUploadType": "sha256"},
    },
}


def test_parse_capabilities_reads_chunking_and_name_rules() -> None:
    caps = parse_capabilities(CAPS)
    assert caps.version == "30.0.1"
    assert caps.supports_chunking and caps.chunking == "1.0"
    assert caps.max_chunk_size == 52428800 and caps.max_parallel == 3
    assert caps.bulkupload
    assert caps.checksum_types == ("MD5", "SHA256")
    rules = caps.name_rules
    assert rules.forbidden_names == {".htaccess", "thumbs.db"}  # compared lowercase
    assert rules.forbidden_basenames == {"con", "aux"}  # PHP array with gaps -> JSON object
    assert rules.forbidden_characters == {"\\", "/", ":"}
    assert rules.forbidden_extensions == {".filepart", " ", ".part"}  # .part always added


def test_parse_capabilities_of_an_old_server_uses_the_validator_defaults() -> None:
    caps = parse_capabilities({"capabilities": {"files": {"blacklisted_files": [".HTACCESS"]}}})
    assert not caps.supports_chunking
    assert caps.max_chunk_size is None
    assert caps.name_rules.forbidden_names == {".htaccess"}
    assert {"/", "\\"} <= caps.name_rules.forbidden_characters
    assert ".part" in caps.name_rules.forbidden_extensions


def test_parse_user_takes_the_id_and_ignores_unlimited_quota() -> None:
    info = parse_user(
        {"id": "u1", "display-name": "Ana", "quota": {"free": -3, "used": 5, "total": -3}}
    )
    assert (info.id, info.display_name) == ("u1", "Ana")
    assert info.quota_free is None and info.quota_used == 5 and info.quota_total is None
    with pytest.raises(ValueError):
        parse_user({"display-name": "no id"})


@pytest.mark.parametrize(
    ("doc", "error"),
    [
        ({"installed": True, "maintenance": True, "version": "30"}, ServerUnavailable),
        ({"installed": True, "needsDbUpgrade": True, "version": "30"}, ServerUnavailable),
        ({"installed": False, "version": "30"}, NotNextcloud),
        ({"hello": "world"}, NotNextcloud),
        (None, NotNextcloud),
    ],
)
def test_parse_status_refuses_unusable_servers(doc: object, error: type) -> None:
    with pytest.raises(error):
        parse_status(doc, "https://h.org/status.php")
