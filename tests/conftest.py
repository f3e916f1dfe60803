"""Shared fixtures: the development server as the HTTP peer of every test.

``devserver``: a fresh server with user alice:secret (function scope).
``devserver_session``: one server for the session; faults, request log and maintenance
are reset before each test that uses it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def devserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A fresh development server with user alice:secret."""
    pytest.importorskip("wsgidav", reason="tellakit[devserver] extra not installed")
    from tellakit.devserver import DevServer

    data = tmp_path_factory.mktemp("devserver")
    srv = DevServer(data, users={"alice": "secret"}).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def _devserver_session_instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    pytest.importorskip("wsgidav", reason="tellakit[devserver] extra not installed")
    from tellakit.devserver import DevServer

    srv = DevServer(tmp_path_factory.mktemp("devserver-session"), users={"alice": "secret"})
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def devserver_session(_devserver_session_instance: object) -> object:
    """The session's development server, with faults, log and maintenance reset."""
    srv = _devserver_session_instance
    srv.faults.clear()  # type: ignore[attr-defined]
    srv.log.clear()  # type: ignore[attr-defined]
    srv.maintenance = False  # type: ignore[attr-defined]
    return srv


@pytest.fixture
def proxied_devserver(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """A ``behind-proxy`` dev server reached over https (Login Flow hands out http:// URLs),
    its throwaway self-signed certificate trusted as an organization's CA would be."""
    pytest.importorskip("wsgidav", reason="tellakit[devserver] extra not installed")
    from nextcloud.servers import self_signed_cert  # tests/nextcloud/servers.py

    from tellakit.devserver import DevServer

    folder = tmp_path_factory.mktemp("proxied")
    cert, key = self_signed_cert(folder)
    monkeypatch.setenv("TELLAKIT_CA_BUNDLE", str(cert))
    users = {"alice": "secret"}
    with DevServer(folder / "data", users=users, profile="behind-proxy", tls=(cert, key)) as srv:
        yield srv
