"""Sanitized names are accepted by the development server and stay inside their folder."""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tellakit.nextcloud import Credentials, NextcloudClient, sanitize_name
from tellakit.nextcloud.account import parse_capabilities
from tellakit.nextcloud.names import name_problem

from .test_names import nasty

pytestmark = pytest.mark.timeout(120)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(title=nasty, filename=nasty)
def test_sanitized_names_land_inside_the_root_folder(
    devserver_session: Any, title: str, filename: str
) -> None:
    srv = devserver_session
    with NextcloudClient(Credentials(srv.url, "alice", "secret")) as client:
        rules = client.capabilities().name_rules
        client.ensure_folder("Tella")
        folder = sanitize_name(title, rules)
        name = sanitize_name(filename, rules)
        client.mkcol(f"Tella/{folder}")
        client.put(f"Tella/{folder}/{name}", io.BytesIO(b"x"), 1)
        root = (srv.files_root("alice") / "Tella").resolve()
        target = (root / folder / name).resolve()
        assert target.parent.parent == root
        assert target.read_bytes() == b"x"
        assert client.stat(f"Tella/{folder}/{name}") is not None
        client.delete(f"Tella/{folder}")


@pytest.fixture(scope="module")
def windows_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A development server with Nextcloud's Windows-compatible name rules switched on."""
    from tellakit.devserver import DevServer

    with DevServer(tmp_path_factory.mktemp("winsrv"), windows_compatible=True) as srv:
        yield srv


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(name=nasty)
def test_windows_rules_from_capabilities_are_honoured(windows_server: Any, name: str) -> None:
    with NextcloudClient(Credentials(windows_server.url, "alice", "secret")) as client:
        rules = client.capabilities().name_rules
        assert "con" in rules.forbidden_basenames and ":" in rules.forbidden_characters
        safe = sanitize_name(name, rules)
        client.put(safe, io.BytesIO(b"w"), 1)
        assert (windows_server.files_root("alice") / safe).read_bytes() == b"w"
        client.delete(safe)


@settings(max_examples=300, deadline=None)
@given(name=nasty, windows=st.booleans())
def test_name_problem_agrees_with_the_servers_validator(name: str, windows: bool) -> None:
    """Our verdict matches the development server's FilenameValidator for the same rules."""
    from tellakit.devserver import NameRules as ServerRules

    server_rules = ServerRules.create(windows_compatible=windows)
    caps = parse_capabilities({"capabilities": {"files": server_rules.capabilities()}})
    ours = name_problem(name, caps.name_rules)
    assert (ours is None) == (server_rules.check(name) is None), (ours, server_rules.check(name))
