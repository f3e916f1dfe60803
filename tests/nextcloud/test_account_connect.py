"""Connecting to things that are not a working Nextcloud: each gives its own clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tellakit.errors import ConnectionLost, InsecureURL, NotNextcloud, TLSFailure, TwoFactorRequired
from tellakit.nextcloud import Credentials, NextcloudClient

from .servers import plain_html_server, self_signed_cert, two_factor_server, unused_port

pytestmark = pytest.mark.timeout(30)


def _client(url: str) -> NextcloudClient:
    return NextcloudClient(Credentials(url, "alice", "s3cret-pw"))


def test_unreachable_port_is_connection_lost() -> None:
    with (
        _client(f"http://127.0.0.1:{unused_port()}") as client,
        pytest.raises(ConnectionLost) as info,
    ):
        client.status()
    assert "s3cret-pw" not in str(info.value)
    assert info.value.method == "GET" and info.value.path == "/status.php"


def test_plain_web_server_is_not_nextcloud() -> None:
    with plain_html_server() as url, _client(url) as client, pytest.raises(NotNextcloud):
        client.status()


def test_self_signed_certificate_is_tls_failure(tmp_path: Path) -> None:
    with (
        plain_html_server(tls_dir=tmp_path) as url,
        _client(url) as client,
        pytest.raises(TLSFailure) as info,
    ):
        client.status()
    assert "certificate" in str(info.value)


def test_http_to_remote_host_refused_before_any_network_access(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    with pytest.raises(InsecureURL):
        _client("http://cloud.example.org")


def test_password_login_forbidden_is_two_factor_required() -> None:
    with (
        two_factor_server() as url,
        _client(url) as client,
        pytest.raises(TwoFactorRequired) as info,
    ):
        client.current_user()
    message = str(info.value)
    assert "Login Flow" in message and "app password" in message
    assert "s3cret-pw" not in message


def test_an_organizations_ca_bundle_is_trusted_and_verification_stays_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with plain_html_server(tls_dir=tmp_path) as url:
        cert = tmp_path / "cert.pem"
        assert cert.exists()
        monkeypatch.setenv("TELLAKIT_CA_BUNDLE", str(cert))
        # TLS now verifies against the organization's CA, so the next problem shows: no Nextcloud.
        with _client(url) as client, pytest.raises(NotNextcloud):
            client.status()
        (tmp_path / "other").mkdir()
        other_ca, _ = self_signed_cert(tmp_path / "other")  # a CA that did not sign this server
        monkeypatch.setenv("TELLAKIT_CA_BUNDLE", str(other_ca))
        with _client(url) as client, pytest.raises(TLSFailure):
            client.status()
