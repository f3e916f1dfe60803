"""``tellakit org keygen``, ``tellakit org pull`` and ``tellakit connect --encrypt-to``."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tellakit import cli, open_vault, org
from tellakit.errors import IdentityFileError
from tellakit.sealed import fingerprint
from tellakit.vault import age

from .conftest import PASSWORD, ROOT, USER, Field

AGE_KEYGEN = shutil.which("age-keygen")
VAULT_PASSPHRASE = "correct horse battery"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "command", [["org", "--help"], ["org", "keygen", "--help"], ["org", "pull", "--help"]]
)
def test_org_commands_have_help(capsys, command) -> None:
    code, out, _ = run(capsys, *command)
    assert code == 0 and "tellakit org" in out


def test_keygen_writes_a_passphrase_protected_identity_and_prints_the_recipient(
    tmp_path: Path, capsys
) -> None:
    (tmp_path / "pass").write_text("organization passphrase\n")
    out_file = tmp_path / "org.key"
    code, out, _ = run(
        capsys, "org", "keygen", str(out_file), "--passphrase-file", str(tmp_path / "pass"),
        "--work-factor", "10",
    )  # fmt: skip
    assert code == 0
    assert out_file.read_bytes().startswith(b"age-encryption.org/v1\n")
    assert b"AGE-SECRET-KEY" not in out_file.read_bytes()
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    assert org.identity.is_encrypted(out_file)
    (identity,) = org.load_identities(out_file, "organization passphrase")
    recipient = str(identity.recipient())  # type: ignore[attr-defined]
    assert recipient in out and fingerprint(recipient) in out
    with pytest.raises(IdentityFileError, match="does not open"):
        org.load_identities(out_file, "wrong")
    with pytest.raises(IdentityFileError, match="protected by a passphrase"):
        org.load_identities(out_file)
    code, _, err = run(
        capsys, "org", "keygen", str(out_file), "--passphrase-file", str(tmp_path / "pass")
    )
    assert code == 2 and "exists" in err  # never overwritten


@pytest.mark.skipif(AGE_KEYGEN is None, reason="age-keygen not installed (apt install age)")
def test_an_unprotected_identity_is_what_stock_age_reads(tmp_path: Path, capsys) -> None:
    out_file = tmp_path / "org.key"
    code, out, _ = run(capsys, "org", "keygen", str(out_file), "--no-passphrase")
    assert code == 0 and "in clear" in out
    public = subprocess.run(
        [AGE_KEYGEN, "-y", str(out_file)], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert public in out
    assert f"# public key: {public}" in out_file.read_text()


def test_identity_files_that_are_not_identities_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("# comment\nhello\n")
    with pytest.raises(IdentityFileError, match="line 2 is not an age identity"):
        org.load_identities(bad)
    bad.write_text("# only a comment\n")
    with pytest.raises(IdentityFileError, match="holds no identity"):
        org.load_identities(bad)


def test_pull_with_a_protected_identity_and_the_exit_codes(
    field_vault: Field, tmp_path: Path, monkeypatch, capsys
) -> None:
    key_file = tmp_path / "org.key"
    recipient = org.keygen(key_file, "org secret", work_factor=10)
    field_vault.submit("Fire", {"a.jpg": b"jpeg"}, encrypt_to=[str(recipient)])
    argv = ["org", "pull", field_vault.server.url, str(tmp_path / "in"), "--login", USER]
    argv += ["--root", ROOT, "--identity", str(key_file)]
    monkeypatch.setenv("TELLAKIT_SERVER_PASSWORD", PASSWORD)
    monkeypatch.delenv("TELLAKIT_ORG_PASSPHRASE", raising=False)
    code, _, err = run(capsys, *argv)  # no terminal to ask for the passphrase
    assert code == 2 and "TELLAKIT_ORG_PASSPHRASE" in err
    monkeypatch.setenv("TELLAKIT_ORG_PASSPHRASE", "wrong")
    code, _, err = run(capsys, *argv)
    assert code == 2 and "The passphrase does not open" in err
    monkeypatch.setenv("TELLAKIT_ORG_PASSPHRASE", "org secret")
    monkeypatch.setenv("TELLAKIT_SERVER_PASSWORD", "not the password")
    code, _, err = run(capsys, *argv)
    assert code == 2 and PASSWORD not in err and "not the password" not in err
    monkeypatch.setenv("TELLAKIT_SERVER_PASSWORD", PASSWORD)
    code, out, _ = run(capsys, *argv)
    assert code == 0 and "1 verified, 0 failed, 0 waiting" in out and "Fire" in out


@pytest.fixture
def vault_env(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TELLAKIT_VAULT", str(tmp_path / "vault"))
    monkeypatch.setenv("TELLAKIT_PASSPHRASE", VAULT_PASSPHRASE)
    monkeypatch.setenv("TELLAKIT_SERVER_PASSWORD", PASSWORD)
    assert cli.main(["init", "--work-factor", "10"]) == 0
    capsys.readouterr()
    return tmp_path / "vault"


def _stored(vault_dir: Path):
    with open_vault(vault_dir, VAULT_PASSPHRASE) as vault:
        return vault.get_connection()


def test_connect_encrypt_to_stores_checked_recipients_and_shows_their_fingerprints(
    devserver, vault_env: Path, capsys
) -> None:
    identity = age.X25519Identity.generate()
    base = ["connect", devserver.url, "--login", USER]
    code, _, err = run(capsys, *base, "--encrypt-to", "age1typo")
    assert code == 2 and "'age1typo' is not a valid age recipient" in err
    code, _, err = run(capsys, *base, "--encrypt-to", str(identity))
    assert code == 2 and "secret key" in err and str(identity) not in err
    code, _, err = run(capsys, *base, "--readable-names")
    assert code == 2 and "--readable-names goes with --encrypt-to" in err
    assert _stored(vault_env) is None  # nothing was stored by the refused attempts
    code, out, _ = run(capsys, *base, "--encrypt-to", str(identity.recipient()), "--readable-names")
    assert code == 0
    assert fingerprint(identity.recipient()) in out and "sealed" in out
    settings = _stored(vault_env)
    assert settings.encrypt_to == (str(identity.recipient()),) and settings.readable_names


def test_connect_without_encrypt_to_says_reports_go_in_clear(
    devserver, vault_env: Path, capsys
) -> None:
    code, out, _ = run(capsys, "connect", devserver.url, "--login", USER)
    assert code == 0 and "in clear" in out
    assert _stored(vault_env).encrypt_to == ()


def test_encrypt_to_changes_an_existing_connection_and_shows_it(
    devserver, vault_env: Path, capsys
) -> None:
    code, _, err = run(capsys, "encrypt-to")
    assert code == 2 and "no Nextcloud connection" in err
    assert run(capsys, "connect", devserver.url, "--login", USER)[0] == 0
    identity = age.X25519Identity.generate()
    recipient = str(identity.recipient())
    code, _, err = run(capsys, "encrypt-to", str(identity))
    assert code == 2 and "secret key" in err and str(identity) not in err
    assert _stored(vault_env).encrypt_to == ()
    code, out, _ = run(capsys, "encrypt-to", recipient)
    assert code == 0 and fingerprint(recipient) in out and "queued ones keep theirs" in out
    assert _stored(vault_env).encrypt_to == (recipient,)
    code, out, _ = run(capsys, "encrypt-to", "--readable-names")
    assert code == 0 and "titles as names" in out
    settings = _stored(vault_env)
    assert settings.encrypt_to == (recipient,) and settings.readable_names
    code, out, _ = run(capsys, "encrypt-to")  # no change: just show it
    assert code == 0 and recipient in out
    code, out, _ = run(capsys, "encrypt-to", "--off")
    assert code == 0 and "in clear" in out
    assert _stored(vault_env).encrypt_to == ()
    code, _, err = run(capsys, "encrypt-to", recipient, "--off")
    assert code == 2 and "not both" in err
