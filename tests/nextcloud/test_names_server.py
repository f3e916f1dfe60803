"""Sanitized names are accepted by the development server and stay inside their folder."""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from tellakit.nextcloud import Credentials, NextcloudClient, sanitize_name

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
