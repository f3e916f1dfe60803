"""The real-server harness (targets.py) checked end to end: the dev server, started as its own
process by ``tellakit devserver``, stands in for a real Nextcloud reached only through the
three environment variables and an app password, as docs/testing.md describes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from targets import PASSWORD_ENV, URL_ENV, USER_ENV

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
HERE = Path(__file__).resolve().parent


def test_smoke_test_runs_against_a_server_given_by_the_environment_and_cleans_up(tmp_path):
    data = tmp_path / "server"
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "tellakit.cli", "devserver", "--port", "0", "--quiet"),
            *("--data", str(data), "--user", "carol:main-password"),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        line = server.stderr.readline()
        url = re.search(r"listening on (http://\S+)", line)
        assert url, line
        r = requests.get(
            f"{url.group(1)}/ocs/v2.php/core/getapppassword",
            params={"format": "json"},
            auth=("carol", "main-password"),
            headers={"OCS-APIRequest": "true"},
            timeout=30,
        )
        app_password = r.json()["ocs"]["data"]["apppassword"]
        env = {
            **os.environ,
            URL_ENV: url.group(1),
            USER_ENV: "carol",
            PASSWORD_ENV: app_password,
        }
        run = subprocess.run(
            [
                *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs"),
                *(str(HERE / "test_smoke.py"), "-k", "nextcloud"),
            ],
            env=env,
            cwd=HERE.parents[1],
            capture_output=True,
            text=True,
            timeout=280,
        )
        assert "1 passed" in run.stdout, run.stdout[-3000:] + run.stderr[-2000:]
        # It worked in a folder of its own, and removed it at the end.
        files = data / "carol" / "files"
        assert files.is_dir()
        assert [p.name for p in files.iterdir()] == []
    finally:
        server.terminate()
        server.wait(30)
