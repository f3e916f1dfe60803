"""The encryption settings of a vault's connection: who reports are sealed to, and names.

``set_encrypt_to`` adds, changes or removes the recipients of an existing connection (checked
first: nothing is stored unless every recipient parses). Reports already queued keep what
they were queued with; the engine reads the settings when a report is queued.
Works on any object with ``get_connection``/``set_connection`` (a ``Vault``), so this module
needs nothing from the vault beyond ``tellakit.vault.age``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from tellakit.errors import NoConnection
from tellakit.sealed.recipients import fingerprint, parse_recipients


def set_encrypt_to(
    vault: Any, encrypt_to: Iterable[str], *, readable_names: bool | None = None
) -> Any:
    """Store ``encrypt_to`` (canonical, deduplicated) in the vault's connection; return it.

    An empty list turns encryption off (the readable layout). ``readable_names`` is kept as
    it is unless given. NoConnection when the vault has no connection yet;
    ConnectionSettingsError naming a recipient that does not parse.
    """
    recipients = tuple(str(r) for r in parse_recipients(encrypt_to))
    settings = vault.get_connection()
    if settings is None:
        raise NoConnection("This vault has no Nextcloud connection.")
    changes: dict[str, Any] = {"encrypt_to": recipients}
    if readable_names is not None:
        changes["readable_names"] = readable_names
    updated = dataclasses.replace(settings, **changes)
    vault.set_connection(updated)
    return updated


def describe_encryption(settings: Any) -> list[str]:
    """Lines saying how reports are written with these settings (for the CLI and the app)."""
    if not settings.encrypt_to:
        return ["Reports are written in clear (readable layout): the server's host can read them."]
    lines = ["Reports are sealed (age) to:"]
    for recipient in settings.encrypt_to:
        shown = recipient if len(recipient) <= 70 else recipient[:67] + "..."
        lines.append(f"  {shown}  fingerprint {fingerprint(recipient)}")
    if settings.readable_names:
        lines.append("Report folders keep their titles as names (readable_names).")
    return lines
