"""Unlock / create vault: passphrase, confirmation, strength hint, refusals."""

from __future__ import annotations

from pathlib import Path

from tellakit.ui import App, ServerPrefill
from tellakit.ui.home import HomeView
from tellakit.ui.unlock import UnlockView
from tellakit.vault import create_vault

from .helpers import PASSPHRASE, close_app, make_app, unlock


def test_an_empty_folder_asks_for_a_new_passphrase_twice_with_a_strength_hint(
    new_app: App,
) -> None:
    screen = new_app.screen
    assert isinstance(screen, UnlockView) and screen.creating
    assert screen.unlock_button.description == "Create vault"
    assert screen.confirmation in screen.children and screen.strength in screen.children
    screen.passphrase.value = "abc"
    assert screen.strength_level == "weak" and "Weak" in screen.strength.value
    screen.passphrase.value = PASSPHRASE
    assert screen.strength_level == "strong"


def test_creating_refuses_two_different_passphrases(new_app: App) -> None:
    screen = new_app.screen
    screen.passphrase.value = PASSPHRASE
    screen.confirmation.value = PASSPHRASE + "x"
    screen.unlock_button.click()
    assert new_app.screen is screen and new_app.vault is None
    assert "differ" in screen.message.text
    assert not new_app.vault_dir.exists()


def test_creating_refuses_an_empty_passphrase(new_app: App) -> None:
    new_app.screen.unlock_button.click()
    assert new_app.vault is None
    assert new_app.screen.message.kind == "error"
    assert "passphrase" in new_app.screen.message.text


def test_creating_opens_the_vault_goes_home_and_forgets_the_typed_passphrase(
    new_app: App,
) -> None:
    screen = new_app.screen
    unlock(new_app)
    assert new_app.vault is not None and not new_app.vault.locked
    assert isinstance(new_app.screen, HomeView)
    assert screen.passphrase.value == "" and screen.confirmation.value == ""
    assert (new_app.vault_dir / "identity.age").exists()


def test_an_existing_vault_asks_once_and_shows_the_vaults_own_error_for_a_wrong_passphrase(
    tmp_path: Path,
) -> None:
    create_vault(tmp_path / "v", PASSPHRASE, work_factor=10).close()
    app = make_app(tmp_path / "v", ServerPrefill(), auto_connect=False)
    try:
        screen = app.screen
        assert isinstance(screen, UnlockView) and not screen.creating
        assert screen.confirmation not in screen.children
        screen.passphrase.value = "not it"
        screen.unlock_button.click()
        assert app.vault is None
        assert screen.message.kind == "error" and screen.message.text
        assert screen.passphrase.value == ""
        unlock(app)
        assert isinstance(app.screen, HomeView) and app.vault is not None
    finally:
        close_app(app)


def test_lock_closes_the_vault_and_returns_to_the_unlock_screen(app: App) -> None:
    vault = app.vault
    app.lock_button.click()
    assert vault.locked and app.vault is None and app.submitter is None
    assert isinstance(app.screen, UnlockView) and not app.screen.creating
    unlock(app)
    assert isinstance(app.screen, HomeView)
