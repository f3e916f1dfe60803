"""Server URL normalization and the plain-http guard (pure; no network)."""

from __future__ import annotations

import pytest

from tellakit.errors import ConnectionSettingsError, InsecureURL
from tellakit.nextcloud.urls import (
    check_scheme,
    is_loopback_host,
    normalize_server_url,
    quote_dav_path,
    split_dav_path,
)


@pytest.mark.parametrize(
    ("pasted", "expected"),
    [
        ("cloud.example.org", "https://cloud.example.org"),
        ("https://cloud.example.org/", "https://cloud.example.org"),
        ("  https://Cloud.Example.org//  ", "https://cloud.example.org"),
        ("https://cloud.example.org/index.php", "https://cloud.example.org"),
        ("https://cloud.example.org/index.php/login", "https://cloud.example.org"),
        ("https://cloud.example.org/nc/index.php/apps/files/", "https://cloud.example.org/nc"),
        ("https://h.org/remote.php/dav/files/alice/Tella/", "https://h.org"),
        ("https://h.org/nextcloud/remote.php/webdav", "https://h.org/nextcloud"),
        ("https://h.org/status.php", "https://h.org"),
        ("https://h.org:443/", "https://h.org"),
        ("https://h.org:8443/x/", "https://h.org:8443/x"),
        ("https://h.org/?q=1#frag", "https://h.org"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("http://localhost:80/", "http://localhost"),
        ("http://[::1]:9000/index.php", "http://[::1]:9000"),
    ],
)
def test_normalize_accepts_what_people_paste(pasted: str, expected: str) -> None:
    assert normalize_server_url(pasted) == expected


def test_normalize_drops_credentials_in_the_url() -> None:
    url = normalize_server_url("https://alice:hunter2@cloud.example.org/")
    assert url == "https://cloud.example.org"
    assert "hunter2" not in url


def test_plain_http_to_remote_host_is_refused_without_opt_in() -> None:
    with pytest.raises(InsecureURL) as info:
        normalize_server_url("http://cloud.example.org")
    assert "https" in str(info.value)


def test_plain_http_to_remote_host_allowed_with_opt_in() -> None:
    url = normalize_server_url("http://cloud.example.org/", allow_insecure_http=True)
    assert url == "http://cloud.example.org"


@pytest.mark.parametrize("bad", ["", "   ", "ftp://h.org", "https://", "https://h.org:99999"])
def test_normalize_refuses_non_urls(bad: str) -> None:
    with pytest.raises(ConnectionSettingsError):
        normalize_server_url(bad)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST.", True),
        ("app.localhost", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("10.0.0.1", False),
        ("localhost.example.org", False),
        ("example.org", False),
        ("128.0.0.1", False),
    ],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_check_scheme_refuses_server_given_http_url() -> None:
    check_scheme("https://h.org/login/v2/poll")
    check_scheme("http://127.0.0.1:1/login/v2/poll")
    with pytest.raises(InsecureURL):
        check_scheme("http://h.org/login/v2/poll")


@pytest.mark.parametrize("path", ["..", "a/../b", "a//b", "./a", "a/."])
def test_dav_paths_cannot_escape(path: str) -> None:
    with pytest.raises(ValueError):
        split_dav_path(path)


def test_quote_dav_path_encodes_each_segment() -> None:
    assert quote_dav_path("/Tella/Title (2)/a#b?.jpg/") == "Tella/Title%20%282%29/a%23b%3F.jpg"
    assert quote_dav_path("") == ""
