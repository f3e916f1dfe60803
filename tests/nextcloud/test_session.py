"""Status -> error mapping in one place, checked through the development server's fault injector."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tellakit.errors import (
    AuthenticationFailed,
    ConnectionLost,
    QuotaExceeded,
    RateLimited,
    ResourceLocked,
    RetryableError,
    ServerUnavailable,
    UnexpectedResponse,
)
from tellakit.nextcloud import ChunkedUpload, Credentials, NextcloudClient, new_transfer_id
from tellakit.nextcloud.session import (
    CA_BUNDLE_ENV,
    NextcloudSession,
    retry_after_seconds,
    user_agent,
)

from .conftest import PASSWORD, assert_no_secret

pytestmark = pytest.mark.timeout(60)


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 28, 16, 0, tzinfo=timezone.utc)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Sat, 28 Nov 2026 16:00:30 GMT", now=now) == 30.0
    assert retry_after_seconds("Sat, 28 Nov 2026 15:00:00 GMT", now=now) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
    assert now + timedelta(seconds=1) > now


def test_basic_auth_is_utf8_for_non_ascii_logins(devserver_session: Any) -> None:
    devserver_session.add_user("jose", "contraseña-ß€", login="josé@example.org")
    creds = Credentials(devserver_session.url, "josé@example.org", "contraseña-ß€")
    with NextcloudClient(creds) as client:
        assert client.current_user().id == "jose"


def test_session_sets_user_agent_and_hides_password(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CA_BUNDLE_ENV:
        monkeypatch.delenv(name, raising=False)
    session = NextcloudSession("alice", PASSWORD)
    assert session.headers["User-Agent"] == user_agent()
    assert user_agent().startswith("tellakit/")
    assert session.verify is True  # certifi's authorities, verification on
    assert_no_secret(repr(session))
    assert_no_secret(repr(session.auth))


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, ServerUnavailable),
        (502, ServerUnavailable),
        (503, ServerUnavailable),
        (507, QuotaExceeded),
        (401, AuthenticationFailed),
        (423, ResourceLocked),
        (418, UnexpectedResponse),
    ],
)
@pytest.mark.parametrize("method", ["PUT", "MKCOL", "PROPFIND"])
def test_status_maps_to_error(
    devserver_session: Any, shared_client: NextcloudClient, status: int, error: type, method: str
) -> None:
    client = shared_client
    client.mkcol("base")
    devserver_session.faults.respond(status, method=method)
    with pytest.raises(error) as info:
        if method == "PUT":
            client.put("base/f.txt", io.BytesIO(b"abc"), 3)
        elif method == "MKCOL":
            client.mkcol("base/new")
        else:
            client.propfind("base")
    exc = info.value
    assert exc.status == status and exc.method == method
    assert exc.path and exc.path.startswith("/remote.php/dav/files/alice/base")
    assert method in str(exc)
    assert_no_secret(str(exc))
    assert isinstance(exc, RetryableError) == (status in (500, 502, 503, 423))


def test_429_carries_retry_after(devserver_session: Any, shared_client: NextcloudClient) -> None:
    devserver_session.faults.respond(429, method="PROPFIND", headers={"Retry-After": "7"})
    with pytest.raises(RateLimited) as info:
        shared_client.propfind("")
    assert info.value.retry_after == 7.0
    assert isinstance(info.value, RetryableError)


def test_connection_cut_mid_body_is_connection_lost(
    devserver: Any, client: NextcloudClient
) -> None:
    devserver.faults.cut_after(100_000, method="PUT")
    size = 2 * 1024 * 1024
    with pytest.raises(ConnectionLost) as info:
        client.put("cut.bin", io.BytesIO(bytes(size)), size)
    assert info.value.method == "PUT"
    assert_no_secret(str(info.value))
    assert client.stat("cut.bin") is None


@pytest.mark.parametrize("offset", [100_000, 3_000_000])
@pytest.mark.parametrize("chunked", [False, True], ids=["put", "chunk"])
def test_connection_cut_while_the_body_is_still_sending_is_connection_lost(
    devserver: Any, client: NextcloudClient, offset: int, chunked: bool
) -> None:
    # 8 MiB: the cut comes while the client is still writing the body (not after it was all
    # in the kernel's buffers), so urllib3 stops iterating the body mid-way.
    size = 8 * 1024 * 1024
    devserver.faults.cut_after(offset, method="PUT")
    with pytest.raises(ConnectionLost) as info:
        if chunked:
            upload = ChunkedUpload(client, "cut.bin", size, new_transfer_id(), chunk_size=size)
            upload.start()
            upload.upload_chunk(1, io.BytesIO(bytes(size)), size)
        else:
            client.put("cut.bin", io.BytesIO(bytes(size)), size)
    assert info.value.method == "PUT"
    assert info.value.path is not None and info.value.path in str(info.value)
    assert ("/uploads/" if chunked else "/cut.bin") in info.value.path
    assert_no_secret(str(info.value))
    assert client.stat("cut.bin") is None


def test_silent_server_times_out_as_connection_lost(devserver_session: Any) -> None:
    devserver_session.faults.latency(1.5, method="PROPFIND")
    creds = Credentials(devserver_session.url, "alice", PASSWORD)
    client = NextcloudClient(creds, user_id="alice", timeout=(5, 0.3))
    with client, pytest.raises(ConnectionLost) as info:
        client.propfind("")
    assert "timed out" in str(info.value)
    devserver_session.faults.clear()


def test_one_client_serves_several_threads(
    devserver_session: Any, shared_client: NextcloudClient
) -> None:
    payloads = {f"t{i}.bin": os.urandom(300_000 + i) for i in range(6)}
    errors: list[BaseException] = []

    def send(name: str, data: bytes) -> None:
        try:
            result = shared_client.put(name, io.BytesIO(data), len(data))
            assert result.hashes["sha256"] == hashlib.sha256(data).hexdigest()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=item) for item in payloads.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    root = devserver_session.files_root("alice")
    for name, data in payloads.items():
        assert (root / name).read_bytes() == data
