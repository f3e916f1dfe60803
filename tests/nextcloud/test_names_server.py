"""Sanitized names are accepted by the development server and stay inside their folder."""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tellakit.errors import NameRejected
from tellakit.nextcloud import (
    Credentials,
    NextcloudClient,
    refuses_4byte_utf8,
    sanitize_name,
    without_4byte_utf8,
)
from tellakit.nextcloud.account import parse_capabilities
from tellakit.nextcloud.names import has_4byte_utf8, name_problem

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


@pytest.fixture(scope="module")
def mysql_utf8_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A development server emulating Nextcloud on MySQL without utf8mb4."""
    from tellakit.devserver import DevServer

    with DevServer(tmp_path_factory.mktemp("utf8"), profile="mysql-utf8") as srv:
        yield srv


@pytest.mark.parametrize("name", ["Protest 📷 march.jpg", "🎥", "Ünïcode ✓ 😀 report"])
def test_four_byte_refusal_is_recognised_and_the_fallback_name_is_accepted(
    mysql_utf8_server: Any, name: str
) -> None:
    with NextcloudClient(Credentials(mysql_utf8_server.url, "alice", "secret")) as client:
        rules = client.capabilities().name_rules
        with pytest.raises(NameRejected) as info:
            client.put(name, io.BytesIO(b"e"), 1)
        assert refuses_4byte_utf8(info.value, name)
        fallback = without_4byte_utf8(name, rules)
        assert not has_4byte_utf8(fallback) and fallback != name
        client.put(fallback, io.BytesIO(b"e"), 1)
        assert (mysql_utf8_server.files_root("alice") / fallback).read_bytes() == b"e"
        with pytest.raises(NameRejected) as folder:
            client.mkcol(name)
        assert refuses_4byte_utf8(folder.value, name)


def test_other_refusals_are_not_taken_for_a_four_byte_one(mysql_utf8_server: Any) -> None:
    with NextcloudClient(Credentials(mysql_utf8_server.url, "alice", "secret")) as client:
        with pytest.raises(NameRejected) as plain:
            client.put("video.part", io.BytesIO(b"p"), 1)
        assert not refuses_4byte_utf8(plain.value, "video.part")
    # a refusal naming another character (a Windows-compatible rule), for an emoji name
    other = NameRejected("PUT /x: refused", status=400)
    other.reason = '":" is not allowed inside a file or folder name.'  # type: ignore[attr-defined]
    assert not refuses_4byte_utf8(other, "a:b 📷")
    assert not refuses_4byte_utf8(ValueError("invalid character"), "📷")


def test_a_utf8mb4_server_stores_four_byte_names(devserver: Any) -> None:
    with NextcloudClient(Credentials(devserver.url, "alice", "secret")) as client:
        client.put("Protest 📷.jpg", io.BytesIO(b"m"), 1)
        assert client.exists("Protest 📷.jpg")
