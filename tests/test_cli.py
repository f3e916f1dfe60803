"""The ``tellakit`` command: help, passphrases, exit codes, and each subcommand end to end."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import pytest

from tellakit import cli, summary
from tellakit.reports import Status

PASSPHRASE = "correct horse battery"
SUBCOMMANDS = [
    "init",
    "info",
    "connect",
    "import",
    "files",
    "report",
    "batch",
    "submit",
    "pause",
    "resume",
    "status",
    "export",
    "lab",
    "recover",
    "rekey",
    "destroy",
]


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A fresh vault path in $TELLAKIT_VAULT and the passphrase in $TELLAKIT_PASSPHRASE."""
    monkeypatch.setenv("TELLAKIT_VAULT", str(tmp_path / "vault"))
    monkeypatch.setenv("TELLAKIT_PASSPHRASE", PASSPHRASE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def vault_dir(env, capsys):
    assert cli.main(["init", "--work-factor", "10"]) == 0
    capsys.readouterr()
    return env / "vault"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(capsys, command):
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    assert f"tellakit {command}" in out


def test_help_documents_the_exit_codes_and_the_passphrase_warning(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for line in ("0  success", "1  partial failure", "2  fatal error"):
        assert line in out
    assert "TELLAKIT_PASSPHRASE" in out
    assert "trust" in out


def test_usage_errors_exit_2(capsys):
    assert run(capsys)[0] == 2
    assert run(capsys, "no-such-command")[0] == 2
    assert run(capsys, "status", "nonsense")[0] == 2


def test_init_then_info_with_passphrase_from_environment(capsys, vault_dir):
    code, out, _ = run(capsys, "info")
    assert code == 0
    assert "Recipient: age1" in out
    assert "0 draft" in out
    assert "Connection: none" in out


def test_passphrase_file_wins_over_environment(capsys, vault_dir, tmp_path, monkeypatch):
    secret = tmp_path / "pass.txt"
    secret.write_text(PASSPHRASE + "\n")
    monkeypatch.setenv("TELLAKIT_PASSPHRASE", "wrong")
    assert run(capsys, "info", "--passphrase-file", str(secret))[0] == 0


def test_wrong_passphrase_is_one_line_exit_2_without_traceback(capsys, vault_dir, monkeypatch):
    monkeypatch.setenv("TELLAKIT_PASSPHRASE", "not it")
    code, _, err = run(capsys, "info")
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("tellakit info: ")
    assert "Traceback" not in err
    assert "not it" not in err


def test_no_passphrase_and_no_terminal_is_a_clear_usage_error(capsys, vault_dir, monkeypatch):
    monkeypatch.delenv("TELLAKIT_PASSPHRASE")
    monkeypatch.setattr("sys.stdin", io.StringIO())
    code, _, err = run(capsys, "info")
    assert code == 2
    assert "TELLAKIT_PASSPHRASE" in err


def test_prompted_passphrase_must_be_typed_twice_alike(capsys, env, monkeypatch):
    monkeypatch.delenv("TELLAKIT_PASSPHRASE")
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    answers = iter(["first", "second"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    code, _, err = run(capsys, "init", "--work-factor", "10")
    assert code == 2
    assert "differ" in err
    assert not (env / "vault" / "tellakit-vault.json").exists()


def test_import_report_files_and_export_round_trip(capsys, vault_dir, tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8 not really a jpeg" * 100)
    code, out, _ = run(capsys, "import", str(photo))
    assert code == 0
    file_id = out.split()[0]
    note = tmp_path / "note.txt"
    note.write_text("seen at noon")
    code, out, err = run(
        capsys,
        "report",
        "Market fire",
        "--description",
        "d",
        "--file",
        file_id,
        "--file",
        str(note),
        "--queue",
    )
    assert code == 0, err
    report_id, status = out.split()[:2]
    assert status == "queued"
    code, out, _ = run(capsys, "files")
    assert "photo.jpg" in out and "note.txt" in out
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    assert run(capsys, "export", file_id, str(out_dir))[0] == 0
    assert (out_dir / "photo.jpg").read_bytes() == photo.read_bytes()
    code, _, err = run(capsys, "export", file_id, str(out_dir))  # refuses to overwrite
    assert code == 2
    assert "exists" in err
    code, out, _ = run(capsys, "status", "outbox")
    assert report_id in out and "Market fire" in out


def test_import_of_a_missing_file_is_exit_2_with_its_name(capsys, vault_dir, tmp_path):
    code, _, err = run(capsys, "import", str(tmp_path / "absent.jpg"))
    assert code == 2
    assert "absent.jpg" in err
    assert "Traceback" not in err


def test_status_csv_reads_back_with_summary_read_csv(capsys, vault_dir, tmp_path):
    for title in ("One", "Two"):
        assert run(capsys, "report", title)[0] == 0
    target = tmp_path / "drafts.csv"
    assert run(capsys, "status", "drafts", "--csv", str(target))[0] == 0
    frame = summary.read_csv(target)
    assert sorted(frame["title"]) == ["One", "Two"]
    assert str(frame["created"].dtype) == "datetime64[us, UTC]"


def test_pause_moves_a_queued_report_out_of_the_queue(capsys, vault_dir):
    code, out, _ = run(capsys, "report", "Later", "--queue")
    report_id = out.split()[0]
    code, out, _ = run(capsys, "pause", report_id)
    assert code == 0
    assert "paused" in out
    code, _, err = run(capsys, "pause", "0" * 32)
    assert code == 2
    assert err.startswith("tellakit pause: ")


def write_manifest(folder: Path, rows: str) -> Path:
    (folder / "media").mkdir(exist_ok=True)
    for name in ("a.jpg", "b.jpg"):
        (folder / "media" / name).write_bytes(name.encode() * 50)
    path = folder / "media" / "manifest.csv"
    path.write_text("title,description,files\n" + rows)
    return path


def test_batch_check_lists_every_bad_row_and_imports_nothing(capsys, vault_dir, tmp_path):
    path = write_manifest(tmp_path, "Good,,a.jpg\n,,b.jpg\nMissing,,c.jpg\n")
    code, out, err = run(capsys, "batch", str(path), "--check")
    assert code == 2
    assert "row 3: empty title" in err
    assert "row 4: file not found" in err
    code, _, err = run(capsys, "batch", str(path))  # strict by default
    assert code == 2
    assert "Nothing imported" in err
    code, out, _ = run(capsys, "status", "drafts")
    assert "No reports" in out


def test_batch_lenient_imports_good_rows_and_exits_1(capsys, vault_dir, tmp_path):
    path = write_manifest(tmp_path, "Good,,a.jpg\n,,b.jpg\nAlso good,,*.jpg\n")
    code, out, _ = run(capsys, "batch", str(path), "--lenient", "--queue")
    assert code == 1
    assert "Imported 2 report(s); skipped 1 row(s)." in out
    code, out, _ = run(capsys, "status", "outbox", "--csv", "-")
    frame = summary.read_csv(io.StringIO(out))
    assert sorted(frame["title"]) == ["Also good", "Good"]
    assert set(frame["status"]) == {Status.QUEUED.value}
    assert frame.set_index("title").loc["Also good", "files"] == 2


# --- against the development server -------------------------------------------------------


@pytest.fixture
def connected(capsys, vault_dir, devserver, tmp_path, monkeypatch):
    monkeypatch.setenv("TELLAKIT_SERVER_PASSWORD", "secret")
    code, out, err = run(capsys, "connect", devserver.url, "--login", "alice")
    assert code == 0, err
    assert "secret" not in out + err
    return devserver


def test_submit_all_sends_the_outbox_and_exits_0(capsys, connected, tmp_path):
    path = write_manifest(tmp_path, "First,,a.jpg\nSecond,,b.jpg\n")
    assert run(capsys, "batch", str(path), "--queue")[0] == 0
    code, out, err = run(capsys, "submit", "--all")
    assert code == 0, err
    assert "2 submitted, 0 failed, 0 not attempted" in out
    tella = connected.files_root("alice") / "Tella"
    assert (tella / "First" / "a.jpg").read_bytes() == (tmp_path / "media" / "a.jpg").read_bytes()
    code, out, _ = run(capsys, "status", "submitted")
    assert "First" in out and "Second" in out
    code, out, _ = run(capsys, "submit", "--all")
    assert code == 0
    assert "outbox is empty" in out


@pytest.mark.parametrize(
    ("profile", "flags", "level"),
    [
        ("nextcloud", [], "server SHA-256"),
        ("nextcloud-object-store", [], "recalculated by the server"),
        ("nextcloud-old", [], "downloaded and hashed"),
        ("nextcloud-old", ["--without-digest", "size-only"], "size checked, content not verified"),
    ],
)
def test_status_submitted_says_how_the_files_were_verified(
    capsys, vault_dir, tmp_path, monkeypatch, profile, flags, level
):
    from tellakit.devserver import DevServer

    big = tmp_path / "media" / "big.bin"
    big.parent.mkdir()
    big.write_bytes(os.urandom(11 * 1024 * 1024))  # chunked: no hash in an object store's MOVE
    monkeypatch.setenv("TELLAKIT_SERVER_PASSWORD", "secret")
    with DevServer(tmp_path / "server", users={"alice": "secret"}, profile=profile) as server:
        code, out, err = run(capsys, "connect", server.url, "--login", "alice", *flags)
        assert code == 0, err
        assert ("size only" in out) is bool(flags)
        path = write_manifest(tmp_path, "Levels,,big.bin\n")
        assert run(capsys, "batch", str(path), "--queue")[0] == 0
        assert run(capsys, "submit", "--all")[0] == 0
    code, out, _ = run(capsys, "status", "submitted")
    assert code == 0 and "Levels" in out
    assert level in out
    code, out, _ = run(capsys, "status", "files")
    assert level in out


def test_submit_refused_login_stops_with_exit_2(capsys, connected, tmp_path):
    path = write_manifest(tmp_path, "First,,a.jpg\nSecond,,b.jpg\nThird,,*.jpg\n")
    assert run(capsys, "batch", str(path), "--queue")[0] == 0
    connected.faults.respond(401, times=0)  # every request from now on: login refused
    code, out, err = run(capsys, "submit", "--all", "--parallel", "1")
    assert code == 2
    assert "0 submitted, 1 failed, 2 not attempted" in out
    assert "stopped:" in out
    assert "secret" not in out + err


def test_paused_report_resumes_on_request(capsys, connected, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("n")
    code, out, _ = run(capsys, "report", "Held back", "--file", str(note), "--queue")
    report_id = out.split()[0]
    assert run(capsys, "pause", report_id)[0] == 0
    code, out, err = run(capsys, "resume", report_id)
    assert code == 0, err
    assert "1 submitted" in out
    assert (connected.files_root("alice") / "Tella" / "Held back" / "note.txt").read_text() == "n"


def test_report_submit_sends_at_once(capsys, connected):
    code, out, err = run(capsys, "report", "Straight out", "--description", "text", "--submit")
    assert code == 0, err
    assert "1 submitted, 0 failed" in out
    folder = connected.files_root("alice") / "Tella" / "Straight out"
    assert (folder / "description.txt").read_text() == "text"


def test_devserver_subcommand_is_dispatched(capsys):
    code = cli.main(["devserver", "--help"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "--port" in out


@pytest.mark.timeout(180)
def test_ctrl_c_in_submit_pauses_the_upload_and_resume_finishes_it(
    capsys, connected, tmp_path, env
):
    import os
    import random
    import signal
    import subprocess
    import sys
    import time

    from tellakit.reports import FileState
    from tellakit.vault import open_vault

    big = tmp_path / "big.bin"
    big.write_bytes(random.Random(5).randbytes(16 * 1024 * 1024))  # chunked: 10 + 6 MiB
    code, out, _ = run(capsys, "report", "Interrupted", "--file", str(big), "--queue")
    report_id = out.split()[0]
    connected.faults.bandwidth(1024 * 1024)  # the first chunk takes ~10 s
    child = subprocess.Popen(
        [sys.executable, "-m", "tellakit.cli", "submit", "--all"],
        cwd=env,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        with open_vault(env / "vault", PASSPHRASE) as vault:
            # The first chunk is on its way once the chunk map records it (before it is sent).
            while not _chunks_in_flight(vault.get_report(report_id).attachments[0]):
                assert time.monotonic() < deadline and child.poll() is None, "no upload"
                time.sleep(0.1)
            assert vault.get_report(report_id).attachments[0].state is FileState.UPLOADING
            child.send_signal(signal.SIGINT)
            out, err = child.communicate(timeout=60)
            assert child.returncode == cli.EXIT_PARTIAL, err
            assert f"1 report(s) paused where they stopped; `tellakit resume {report_id}`" in err
            assert "Traceback" not in err
            assert vault.get_report(report_id).status is Status.PAUSED
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    connected.faults.bandwidth(None)
    code, out, err = run(capsys, "resume", report_id)
    assert code == 0, err
    tella = connected.files_root("alice") / "Tella"
    assert (tella / "Interrupted" / "big.bin").read_bytes() == big.read_bytes()


def _chunks_in_flight(att: Any) -> bool:
    from tellakit.engine.chunkmap import ChunkMap

    return att.chunk_map is not None and bool(ChunkMap.loads(att.chunk_map).unconfirmed())


def test_retry_flags_parse_durations_and_refuse_nonsense(capsys):
    parser = cli.build_parser()
    args = parser.parse_args(["submit", "--all", "--give-up-after", "1h30m", "--no-retry"])
    assert args.give_up_after == 5400 and args.no_retry
    policy = cli._retry_policy(args)
    assert policy.auto is False and policy.give_up_after == 5400
    default = cli._retry_policy(parser.parse_args(["resume", "x"]))
    assert default.auto is True and default.give_up_after == 3600
    code, _, err = run(capsys, "submit", "--all", "--give-up-after", "soon")
    assert code == 2 and "not a duration" in err


def test_status_shows_when_the_next_retry_comes_and_why(capsys, vault_dir):
    from tellakit.vault import open_vault

    with open_vault(vault_dir, PASSPHRASE) as vault:
        report = vault.create_report("Waiting", "", [])
        vault.set_status(report.id, Status.UPLOADING)
        vault.set_status(
            report.id,
            Status.INTERRUPTED,
            reason="Connection lost: PUT /x: reset [automatic retry: connection lost 3 times "
            "in the last minute; next try in 600 s]",
            retryable=True,
        )
    code, out, _ = run(capsys, "status")
    assert code == 0
    table, notes = out.split("Automatic retries:")
    assert "Connection lost: PUT /x: reset" in table and "automatic retry" not in table
    line = notes.strip()
    assert line.startswith(report.id)
    assert "connection lost 3 times in the last minute; next try in " in line
    seconds = int(line.rsplit("next try in ", 1)[1].split()[0])
    assert 500 < seconds <= 600  # counted from when it was recorded


def test_submit_retries_by_default_and_not_with_no_retry(capsys, connected, tmp_path):
    path = write_manifest(tmp_path, "First,,a.jpg\n")
    assert run(capsys, "batch", str(path), "--queue")[0] == 0
    # The small file goes in the bulk request the dev server offers (a PUT where it does not).
    upload = r"a\.jpg$|/dav/bulk$"
    connected.faults.respond(503, path=upload)  # once
    code, out, err = run(capsys, "submit", "--all", "--no-retry")
    assert code == 1 and "0 submitted, 1 failed" in out and "503" in out
    connected.faults.respond(503, path=upload)  # once more
    code, out, err = run(capsys, "submit", "--all")
    assert code == 0, out + err
    assert "1 submitted, 0 failed" in out
    statuses = [r.status for r in connected.log if re.search(upload, r.path)]
    assert statuses[:2] == [503, 503] and statuses[2] < 300  # the second run tried again


# --- vault care: permissions, orphans, recovery, re-key, quick delete -------------------------


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_info_warns_about_a_vault_others_can_read_and_fixes_it_on_request(capsys, vault_dir):
    os.chmod(vault_dir, 0o755)  # noqa: S103 - what an older tellakit left
    os.chmod(vault_dir / "identity.age", 0o644)
    code, _, err = run(capsys, "info")
    assert code == 0
    assert "can be read by other users" in err
    assert "--fix-permissions" in err
    assert oct(vault_dir.stat().st_mode & 0o777) == "0o755"  # no terminal: nothing changed
    code, _, err = run(capsys, "info", "--fix-permissions")
    assert code == 0 and "Made 2 item(s) private" in err
    assert vault_dir.stat().st_mode & 0o777 == 0o700
    assert (vault_dir / "identity.age").stat().st_mode & 0o777 == 0o600
    assert "other users" not in run(capsys, "info")[2]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_info_offers_to_fix_permissions_at_a_terminal(capsys, vault_dir, monkeypatch):
    os.chmod(vault_dir / "index.db", 0o640)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    monkeypatch.setattr("builtins.input", lambda prompt="": "y")
    code, _, err = run(capsys, "info")
    assert code == 0 and "Made 1 item(s) private" in err
    assert (vault_dir / "index.db").stat().st_mode & 0o777 == 0o600


def _lose_a_row(vault_dir: Path, name: str) -> str:
    """Import a file, then drop its row as an index.db from an older backup would."""
    from tellakit.vault import open_vault

    with open_vault(vault_dir, PASSPHRASE) as vault:
        f = vault.import_bytes(b"evidence the index forgot", name)
        with vault._index.transaction() as cur:
            cur.execute("DELETE FROM files WHERE id = ?", (f.id,))
    return f.sha256


def test_info_lists_orphans_and_recover_reindexes_them(capsys, vault_dir):
    sha256 = _lose_a_row(vault_dir, "lost.txt")
    code, _, err = run(capsys, "files")
    assert code == 2 and "tellakit recover" in err
    code, out, _ = run(capsys, "info")
    assert code == 0 and "Orphans: 1 file(s)" in out
    code, out, _ = run(capsys, "recover")
    assert code == 0
    assert "recovered-1" in out and sha256 in out
    code, out, _ = run(capsys, "files")
    assert code == 0 and "recovered-1" in out
    assert "Orphans" not in run(capsys, "info")[1]


def test_recover_set_aside_moves_orphans_out_of_blobs(capsys, vault_dir, tmp_path):
    _lose_a_row(vault_dir, "lost.txt")
    code, out, _ = run(capsys, "recover", "--set-aside", str(tmp_path / "aside"))
    assert code == 0 and "Set aside 1 file(s)" in out
    assert len(list((tmp_path / "aside").iterdir())) == 1
    assert run(capsys, "files")[0] == 0


def test_recover_rebuilds_a_lost_index_from_the_blobs(capsys, vault_dir, tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"pixels" * 1000)
    assert run(capsys, "import", str(photo))[0] == 0
    (vault_dir / "index.db").unlink()
    code, _, err = run(capsys, "files")
    assert code == 2 and "index.db is missing" in err
    code, out, err = run(capsys, "recover")
    assert code == 0, err
    assert "Started a new, empty index.db" in out and "recovered-1" in out
    code, out, _ = run(capsys, "files")
    assert "recovered-1" in out
    file_id = out.split()[0]
    assert run(capsys, "export", file_id, str(tmp_path / "back.bin"))[0] == 0
    assert (tmp_path / "back.bin").read_bytes() == photo.read_bytes()


def test_rekey_changes_key_and_passphrase_and_keeps_every_file(capsys, vault_dir, monkeypatch):
    note = vault_dir.parent / "note.txt"
    note.write_text("kept through the re-key")
    file_id = run(capsys, "import", str(note))[1].split()[0]
    monkeypatch.setenv("TELLAKIT_NEW_PASSPHRASE", "a completely new passphrase")
    code, out, err = run(capsys, "rekey")
    assert code == 0, err
    assert "re-wrapped" in out
    assert run(capsys, "files")[0] == 2  # the old passphrase opens nothing now
    monkeypatch.setenv("TELLAKIT_PASSPHRASE", "a completely new passphrase")
    out_file = vault_dir.parent / "back.txt"
    assert run(capsys, "export", file_id, str(out_file))[0] == 0
    assert out_file.read_text() == "kept through the re-key"


def test_destroy_refused_at_the_prompt_deletes_nothing(capsys, vault_dir, monkeypatch):
    before = sorted(p.name for p in vault_dir.rglob("*"))
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    monkeypatch.setattr("builtins.input", lambda prompt="": "not the name")
    code, _, err = run(capsys, "destroy")
    assert code == 2
    assert "nothing was deleted" in err
    assert sorted(p.name for p in vault_dir.rglob("*")) == before


def test_destroy_without_a_terminal_needs_yes(capsys, vault_dir, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO())
    code, _, err = run(capsys, "destroy", str(vault_dir))
    assert code == 2 and "--yes" in err
    assert (vault_dir / "identity.age").exists()
    code, out, _ = run(capsys, "destroy", str(vault_dir), "--yes")
    assert code == 0 and "Destroyed" in out
    assert not vault_dir.exists()
    assert run(capsys, "destroy", str(vault_dir), "--yes")[0] == 0  # again: nothing to do


def test_destroy_after_typing_the_folder_name_needs_no_passphrase(capsys, vault_dir, monkeypatch):
    monkeypatch.delenv("TELLAKIT_PASSPHRASE")
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    monkeypatch.setattr("builtins.input", lambda prompt="": "vault")
    code, _, _ = run(capsys, "destroy")
    assert code == 0
    assert not vault_dir.exists()


def test_destroy_refuses_a_folder_that_is_not_a_vault(capsys, tmp_path):
    docs = tmp_path / "Documents"
    docs.mkdir()
    (docs / "identity.age").write_text("someone else's file")
    code, _, err = run(capsys, "destroy", str(docs), "--yes")
    assert code == 2 and "nothing was deleted" in err
    assert (docs / "identity.age").exists()
