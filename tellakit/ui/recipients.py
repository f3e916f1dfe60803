"""Sealed reports in the app: the connection form's "Encrypt reports to the organization"
field, and the note the upload and submitted views show (``layout_note``).

One or more age recipients (``age1...``, or ``ssh-ed25519 ...`` public keys), one a line. Each
one shows its fingerprint as it is typed, so field staff can read it back to the organization
over the phone; a line that is not a recipient says why. A pasted secret key is cleared from
the field at once (it must not stay in widget state, nor be saved with the notebook) and is
never shown. With recipients, "keep report titles as folder names" trades the names' secrecy
for reports the team can find by title on the server.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from tellakit.errors import ConnectionSettingsError
from tellakit.reports import Report
from tellakit.sealed import fingerprint, looks_secret, parse_recipient, parse_recipients
from tellakit.ui.fmt import esc

KEY_REFUSED = (
    "That was a secret key, not a recipient: it was cleared and not stored. Give field staff "
    "only the organization's public recipient (age1...); if the secret key was sent around, "
    "make a new one (tellakit org keygen)."
)


def _shown(recipient: str) -> str:
    return recipient if len(recipient) <= 24 else f"{recipient[:14]}…{recipient[-8:]}"


class RecipientsField(w.VBox):
    """The recipients text, their fingerprints (or what is wrong), and the names option."""

    def __init__(self, *, width: str = "32em", label_width: str = "9em") -> None:
        self.text = w.Textarea(
            description="Encrypt to",
            placeholder="Optional: the organization's age recipient (age1...), one a line",
            rows=2,
            layout=w.Layout(width=width),
            style={"description_width": label_width},
        )
        self.fingerprints = w.HTML()
        self.readable_names = w.Checkbox(
            value=False,
            description="Keep report titles as folder names (the server's host can read them)",
            indent=False,
            layout=w.Layout(width="auto", display="none"),
        )
        self.text.add_class("tk-encrypt-to")
        self.fingerprints.add_class("tk-encrypt-to-fingerprints")
        self.readable_names.add_class("tk-readable-names")
        super().__init__(
            [
                w.HTML(
                    "<b>Encrypt reports to the organization</b> <small>(optional: whoever "
                    "hosts the server then cannot read them)</small>"
                ),
                self.text,
                self.fingerprints,
                self.readable_names,
            ]
        )
        self.text.observe(self._on_text_change, names="value")

    @property
    def recipients(self) -> list[str]:
        """The non-empty lines as typed."""
        return [line.strip() for line in self.text.value.splitlines() if line.strip()]

    def checked(self) -> list[str]:
        """The canonical recipients (ConnectionSettingsError naming the first bad line)."""
        return [str(r) for r in parse_recipients(self.recipients)]

    def _on_text_change(self, change: dict[str, Any]) -> None:
        text = change["new"]
        if looks_secret(text):
            self.text.value = ""  # at once: not in widget state, not in a saved notebook
            self._show([f"<span style='color:#b3261e'>{esc(KEY_REFUSED)}</span>"])
            return
        lines = []
        for line in self.recipients:
            try:
                recipient = parse_recipient(line)
            except ConnectionSettingsError as exc:
                lines.append(f"<span style='color:#b3261e'>{esc(str(exc))}</span>")
            else:
                lines.append(
                    f"<code>{esc(_shown(str(recipient)))}</code> fingerprint "
                    f"<b class='tk-fingerprint'>{esc(fingerprint(recipient))}</b>"
                )
        self._show(lines)
        self.readable_names.layout.display = "flex" if self.recipients else "none"

    def _show(self, lines: list[str]) -> None:
        self.fingerprints.value = f"<small>{'<br>'.join(lines)}</small>" if lines else ""


def layout_note(report: Report) -> str:
    """HTML saying how the report goes (or went) to the server: sealed, or in clear."""
    if report.sealed_to is None:
        return ""  # not fixed yet: the connection decides when it leaves for the server
    if not report.sealed:
        return (
            "<p class='tk-layout-readable'><small>Sent in clear (Tella's layout): whoever "
            "hosts the server can read it.</small></p>"
        )
    keys = ", ".join(fingerprint(r) for r in report.sealed_to)
    names = (
        " The folder on the server is named after the title."
        if report.readable_names
        else " Its folder and file names on the server say nothing about it."
    )
    return (
        f"<p class='tk-layout-sealed'>🔒 <b>Sealed</b> to the organization "
        f"<small>(age, key fingerprint {esc(keys)})</small>: whoever hosts the server cannot "
        f"read it; only the organization can.{esc(names)}</p>"
    )
