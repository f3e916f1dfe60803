"""Fixtures for the protocol tests: a client logged in to the development server as alice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tellakit.nextcloud import Credentials, NextcloudClient

PASSWORD = "secret"  # the devserver fixture's user alice:secret


@pytest.fixture
def client(devserver: Any) -> Iterator[NextcloudClient]:
    """A NextcloudClient for alice on the function-scoped development server."""
    with NextcloudClient(Credentials(devserver.url, "alice", PASSWORD)) as c:
        yield c


def assert_no_secret(text: str, *secrets: str) -> None:
    """Fail when any secret appears in ``text``."""
    for secret in (PASSWORD, *secrets):
        assert secret not in text, "a credential leaked into a message or repr"


@pytest.fixture
def shared_client(devserver_session: Any) -> Iterator[NextcloudClient]:
    """A client for alice on the session's development server (faults reset per test)."""
    with NextcloudClient(Credentials(devserver_session.url, "alice", PASSWORD)) as c:
        yield c
