"""Unlock an existing vault, or create a new one (passphrase twice, with a strength hint)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from tellakit.errors import TellakitError
from tellakit.ui.common import Message
from tellakit.ui.fmt import esc, strength_hint
from tellakit.ui.screen import Screen
from tellakit.vault import create_vault, open_vault

if TYPE_CHECKING:
    from tellakit.ui.context import AppContext

_HINT_COLORS = {"empty": "#555", "weak": "#b3261e", "fair": "#8a5a00", "strong": "#1b7f3b"}


def _holds_files(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


class UnlockView(Screen):
    """The first screen: passphrase for the vault folder; creates the vault on first use."""

    title = "Vault"

    def __init__(self, ctx: AppContext, vault_dir: Path, *, work_factor: int | None = None) -> None:
        self.vault_dir = vault_dir
        self._work_factor = work_factor
        self.creating = not _holds_files(vault_dir)
        self.passphrase = w.Password(description="Passphrase", placeholder="passphrase")
        self.confirmation = w.Password(description="Repeat", placeholder="the same passphrase")
        self.strength = w.HTML()
        self.unlock_button = w.Button(
            description="Create vault" if self.creating else "Unlock",
            button_style="primary",
            icon="plus" if self.creating else "unlock",
        )
        self.message = Message()
        for widget, css in (
            (self.passphrase, "tk-passphrase"),
            (self.confirmation, "tk-confirmation"),
            (self.unlock_button, "tk-unlock"),
        ):
            widget.add_class(css)
        intro = (
            "Create a vault: an encrypted folder on this computer for your files and reports. "
            "Nobody can open it without the passphrase, and it cannot be recovered if you "
            "forget it."
            if self.creating
            else "Enter the passphrase of your vault."
        )
        fields: list[Any] = [self.passphrase]
        if self.creating:
            fields += [self.confirmation, self.strength]
            self._render_strength("")
        super().__init__(
            ctx,
            [
                w.HTML(f"<h3>{'New vault' if self.creating else 'Unlock vault'}</h3>"),
                w.HTML(
                    f"<p>{esc(intro)}<br><small>Folder: <code>{esc(vault_dir)}</code></small></p>"
                ),
                *fields,
                self.unlock_button,
                self.message,
            ],
        )
        self.passphrase.observe(self._on_passphrase_value, "value")
        self.unlock_button.on_click(self._on_unlock_button_click)

    def _render_strength(self, passphrase: str) -> None:
        level, advice = strength_hint(passphrase)
        self.strength.value = (
            f'<span class="tk-strength-{level}" style="color:{_HINT_COLORS[level]}">'
            f"{esc(advice)}</span>"
        )
        self.strength_level = level

    def _on_passphrase_value(self, change: dict) -> None:
        if self.creating:
            self._render_strength(change["new"])

    def _on_unlock_button_click(self, _: w.Button) -> None:
        passphrase = self.passphrase.value
        if self.creating and passphrase != self.confirmation.value:
            self.message.show("The two passphrases differ; type the same one twice.", "error")
            self.confirmation.value = ""
            return
        self.message.show("Creating the vault…" if self.creating else "Unlocking…")
        try:
            if self.creating:
                kwargs = {} if self._work_factor is None else {"work_factor": self._work_factor}
                vault = create_vault(self.vault_dir, passphrase, **kwargs)
            else:
                vault = open_vault(self.vault_dir, passphrase)
        except (TellakitError, ValueError) as exc:
            self.message.error(exc if isinstance(exc, TellakitError) else str(exc))
            return
        finally:
            # The passphrase must not linger in widget state (a saved notebook keeps it).
            self.passphrase.value = ""
            self.confirmation.value = ""
        self.message.clear()
        self.ctx.unlocked(vault)
