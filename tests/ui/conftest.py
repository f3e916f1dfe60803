"""Fixtures for widget tests: an App on a small-KDF vault, talking to the development server.

Widgets run without a browser here (ipywidgets works without a kernel); tests drive them the
way a person does, by setting ``value`` and calling ``click()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tellakit.ui import App, ServerPrefill

from .helpers import close_app, make_app, unlock, wait_until


@pytest.fixture
def server(devserver: Any) -> ServerPrefill:
    """The development server as the app would get it from ``tellakit lab``."""
    return ServerPrefill(devserver.url, "alice", "secret")


@pytest.fixture
def new_app(tmp_path: Path, server: ServerPrefill) -> Iterator[App]:
    """An App on a fresh (not yet created) vault folder."""
    app = make_app(tmp_path / "vault", server)
    yield app
    close_app(app)


@pytest.fixture
def app(new_app: App) -> App:
    """An App with its vault created and connected to the development server, on Home."""
    unlock(new_app)
    assert new_app.wait(20)
    wait_until(lambda: new_app.vault.get_connection() is not None, what="auto-connect")
    return new_app


@pytest.fixture
def vault(app: App) -> Any:
    return app.vault
