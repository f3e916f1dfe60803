"""Recipients: parsed strictly, fingerprinted, and stored in the vault's connection."""

from __future__ import annotations

import pytest

from tellakit.errors import ConnectionSettingsError, NoConnection
from tellakit.sealed import describe_encryption, fingerprint, parse_recipients, set_encrypt_to
from tellakit.vault import ConnectionSettings, Vault, age, open_vault
from tellakit.vault.age.ssh import SshEd25519Identity

ORG = age.X25519Identity.generate()
RECIPIENT = str(ORG.recipient())
SSH_KEY = SshEd25519Identity(bytes(range(32))).recipient()
SSH_LINE = f"{SSH_KEY} org@example"


def test_age_and_ssh_recipients_parse_and_duplicates_go() -> None:
    parsed = parse_recipients([RECIPIENT, f"  {RECIPIENT}\n", SSH_LINE])
    assert [str(r) for r in parsed] == [RECIPIENT, SSH_LINE.rsplit(" ", 1)[0]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (str(ORG), "secret key"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blb...", "private SSH key"),
        ("age1pq1" + "q" * 60, "Post-quantum"),
        (RECIPIENT[:-1] + ("q" if RECIPIENT[-1] != "q" else "p"), "not a valid age recipient"),
        (RECIPIENT.upper(), "not an age recipient"),
        ("ssh-rsa AAAAB3NzaC1yc2E= x", "only ssh-ed25519"),
        ("ssh-ed25519 !!!", "base64"),
        ("hello", "not an age recipient"),
        ("", "not an age recipient"),
    ],
)
def test_bad_recipients_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(ConnectionSettingsError, match=message) as info:
        parse_recipients([text])
    assert str(ORG) not in str(info.value)  # a pasted secret key is never echoed


def test_fingerprints_are_short_stable_and_differ() -> None:
    code = fingerprint(RECIPIENT)
    assert len(code) == 19 and code.count(" ") == 3
    assert fingerprint(ORG.recipient()) == code
    assert fingerprint(age.X25519Identity.generate().recipient()) != code


def _connect(vault: Vault) -> None:
    vault.set_connection(
        ConnectionSettings("http://127.0.0.1:1", "alice", "alice", "pw", root_folder="Tella")
    )


def test_encrypt_to_is_stored_in_the_connection_and_can_be_removed(vault: Vault) -> None:
    with pytest.raises(NoConnection):
        set_encrypt_to(vault, [RECIPIENT])
    _connect(vault)
    assert vault.get_connection().encrypt_to == ()
    set_encrypt_to(vault, [RECIPIENT, SSH_LINE], readable_names=True)
    path = vault.path
    vault.close()
    reopened = open_vault(path, "sealed tests")
    settings = reopened.get_connection()
    assert settings.encrypt_to == (RECIPIENT, SSH_LINE.rsplit(" ", 1)[0])
    assert settings.readable_names is True
    assert settings.login == "alice" and settings.password == "pw"
    lines = describe_encryption(settings)
    assert fingerprint(RECIPIENT) in "\n".join(lines) and "readable_names" in lines[-1]
    set_encrypt_to(reopened, [])
    assert reopened.get_connection().encrypt_to == ()
    assert reopened.get_connection().readable_names is True  # kept unless given
    assert "in clear" in describe_encryption(reopened.get_connection())[0]
    reopened.close()


def test_a_bad_recipient_stores_nothing(vault: Vault) -> None:
    _connect(vault)
    set_encrypt_to(vault, [RECIPIENT])
    with pytest.raises(ConnectionSettingsError):
        set_encrypt_to(vault, [RECIPIENT, "age1nope"])
    assert vault.get_connection().encrypt_to == (RECIPIENT,)
