"""Defaults from ``tellakit lab``: the vault under TELLAKIT_LAB_HOME, the demo server prefilled."""

from __future__ import annotations

from pathlib import Path

import pytest

from tellakit.lab import ENV_PASSWORD, ENV_URL, ENV_USER
from tellakit.ui import App
from tellakit.ui.defaults import ServerPrefill, default_vault_dir


def test_prefill_comes_from_the_lab_environment_and_hides_the_password() -> None:
    env = {ENV_URL: "http://127.0.0.1:9999", ENV_USER: "demo", ENV_PASSWORD: "pw-123"}
    prefill = ServerPrefill.from_env(env)
    assert (prefill.url, prefill.login, prefill.root_folder) == (
        "http://127.0.0.1:9999",
        "demo",
        "Tella",
    )
    assert prefill.complete and "pw-123" not in repr(prefill)
    assert not ServerPrefill.from_env({}).complete


def test_the_known_password_is_only_used_for_the_same_server_and_login() -> None:
    prefill = ServerPrefill("http://127.0.0.1:9999", "demo", "pw-123")
    assert prefill.password_for("http://127.0.0.1:9999/", "demo") == "pw-123"
    assert prefill.password_for("https://elsewhere.example", "demo") is None
    assert prefill.password_for("http://127.0.0.1:9999", "someone") is None


def test_the_vault_goes_under_the_lab_home(tmp_path: Path) -> None:
    assert default_vault_dir({"TELLAKIT_LAB_HOME": str(tmp_path)}) == tmp_path.resolve() / "vault"
    assert default_vault_dir({}) == Path.home() / "tellakit" / "vault"


def test_app_defaults_follow_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELLAKIT_LAB_HOME", str(tmp_path))
    monkeypatch.setenv(ENV_URL, "http://127.0.0.1:9999")
    monkeypatch.setenv(ENV_USER, "demo")
    monkeypatch.setenv(ENV_PASSWORD, "pw-123")
    app = App()
    assert app.vault_dir == tmp_path.resolve() / "vault"
    assert app.prefill.url == "http://127.0.0.1:9999" and app.auto_connect
    assert "pw-123" not in repr(app)
    monkeypatch.delenv(ENV_PASSWORD)
    assert not App(tmp_path / "other").auto_connect
