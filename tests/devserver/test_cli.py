"""``tellakit devserver``: starts, serves with the given users and faults, stops on SIGTERM."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import pytest
import requests


@pytest.mark.timeout(60)
def test_cli_serves_users_and_faults_then_stops(tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tellakit.cli",
            "devserver",
            "--port",
            "0",
            "--data",
            str(tmp_path),
            "--user",
            "bob:pw:bob@example.org",
            "--fault",
            "GET:/ocs/:status:503",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stderr.readline()
        match = re.search(r"listening on (http://\S+)", line)
        assert match, line
        url = match.group(1)
        assert requests.get(url + "/status.php", timeout=10).status_code == 200
        r = requests.request(
            "PUT",
            url + "/remote.php/dav/files/bob/f.txt",
            auth=("bob@example.org", "pw"),
            data=b"hi",
            timeout=10,
        )
        assert r.status_code == 201
        assert (tmp_path / "bob" / "files" / "f.txt").read_bytes() == b"hi"
        ocs = requests.get(url + "/ocs/v2.php/cloud/user", auth=("bob", "pw"), timeout=10)
        assert ocs.status_code == 503  # the injected fault
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        log = proc.stderr.read()
        assert '"PUT /remote.php/dav/files/bob/f.txt" 201' in log
        assert "pw" not in log.replace("pw=", "")
    finally:
        proc.kill()
        proc.wait()


def test_cli_rejects_bad_user_spec(monkeypatch):
    monkeypatch.delenv("TELLAKIT_DEVSERVER_PASSWORD", raising=False)
    from tellakit.devserver.cli import main

    assert main(["--user", "nopassword"]) == 2


def test_bare_uid_takes_its_password_from_the_environment(monkeypatch):
    from tellakit.devserver.cli import _users

    monkeypatch.setenv("TELLAKIT_DEVSERVER_PASSWORD", "from-env")
    assert _users(["demo"]) == [("demo", "from-env", None)]
    assert _users(["bob:given"]) == [("bob", "given", None)]


def test_profile_flag_names_the_kind_of_server(capsys):
    from tellakit.devserver.cli import build_parser

    assert build_parser().parse_args([]).profile == "nextcloud"
    assert build_parser().parse_args(["--profile", "mysql-utf8"]).profile == "mysql-utf8"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--profile", "owncloud"])
    assert "nextcloud-object-store" in capsys.readouterr().err
