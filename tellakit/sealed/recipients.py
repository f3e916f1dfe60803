"""Who a sealed report is encrypted to: parsing, checking and fingerprinting recipients.

Field staff receive the organization's recipient (``age1...``, or an ``ssh-ed25519`` public
key) and paste it into the connection. ``parse_recipients`` refuses anything else with a
message that says what was pasted instead (a secret key above all: it must never leave the
organization), and ``fingerprint`` gives a short code both sides can read to each other over
the phone to be sure the key was not swapped on the way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from tellakit.errors import ConnectionSettingsError
from tellakit.vault.age.recipients import X25519Recipient
from tellakit.vault.age.ssh import SshEd25519Recipient

Recipient = X25519Recipient | SshEd25519Recipient


def looks_secret(text: str) -> bool:
    """True when ``text`` holds a secret key (an age identity or a private SSH key): a form
    clears such a paste at once and never shows it."""
    return "AGE-SECRET-KEY-" in text.upper() or "PRIVATE KEY" in text


def parse_recipient(text: str) -> Recipient:
    """One recipient from its text form (ConnectionSettingsError saying why not)."""
    value = text.strip()
    if value.upper().startswith("AGE-SECRET-KEY-"):
        raise ConnectionSettingsError(
            "That is an age secret key, not a recipient: give field staff only the public "
            "key (age1...), and keep the secret key with the organization."
        )
    if "PRIVATE KEY" in value:
        raise ConnectionSettingsError(
            "That is a private SSH key, not a recipient: use the public key (the .pub file)."
        )
    if value.startswith("age1pq1"):
        raise ConnectionSettingsError(
            "Post-quantum age recipients (age1pq1...) are not supported yet; use an age1... "
            "X25519 recipient."
        )
    if value.startswith("age1"):
        try:
            return X25519Recipient.parse(value)
        except ValueError:
            raise ConnectionSettingsError(
                f"{_shown(value)} is not a valid age recipient (a typo or a cut-off copy?)."
            ) from None
    if value.startswith("ssh-"):
        try:
            return SshEd25519Recipient.parse(value)
        except ValueError as exc:
            raise ConnectionSettingsError(
                f"{_shown(value)} is not a usable SSH recipient: {exc}."
            ) from None
    raise ConnectionSettingsError(
        f"{_shown(value)} is not an age recipient: expected age1... or ssh-ed25519 AAAA...."
    )


def _shown(value: str) -> str:
    """A recipient as shown in a message: public, but cut so a stray paste stays short."""
    return repr(value if len(value) <= 80 else value[:77] + "...")


def parse_recipients(texts: Iterable[str]) -> list[Recipient]:
    """Every recipient, in order, duplicates dropped (ConnectionSettingsError on the first bad)."""
    out: list[Recipient] = []
    seen: set[str] = set()
    for text in texts:
        recipient = parse_recipient(text)
        if str(recipient) not in seen:
            seen.add(str(recipient))
            out.append(recipient)
    return out


def fingerprint(recipient: Recipient | str) -> str:
    """A short code for comparing a recipient by voice: 16 hex digits in groups of four.

    The first 64 bits of the SHA-256 of the recipient's canonical text; an attacker would need
    about 2^64 key pairs to make a different key with the same code.
    """
    text = str(parse_recipient(recipient) if isinstance(recipient, str) else recipient)
    digest = hashlib.sha256(text.encode("ascii")).hexdigest()[:16]
    return " ".join(digest[i : i + 4] for i in range(0, 16, 4))
