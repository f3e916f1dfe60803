"""An interrupted pull continues where it stopped: ``kill -9`` mid-download, then run again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tellakit import org
from tellakit.org.state import WORK_FOLDER

from .conftest import PASSWORD, ROOT, USER, Field, Organization, content

SIZE = 6 * 1024 * 1024


def _part_bytes(dest: Path) -> int:
    """The size of the largest download in progress (the video's)."""
    parts = (dest / WORK_FOLDER).glob("*/downloads/*.part")
    return max((p.stat().st_size for p in parts), default=0)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_killed_pull_resumes_its_download_and_verifies(
    field_vault: Field, organization: Organization, tmp_path: Path
) -> None:
    data = content("big video", SIZE)
    report = field_vault.submit(
        "Long video", {"clip.mp4": data}, encrypt_to=[organization.recipient]
    )
    server = field_vault.server
    dest = tmp_path / "inbox"
    server.faults.bandwidth(512 * 1024)  # a slow link: the download takes ~12 s
    env = {**os.environ, "TELLAKIT_SERVER_PASSWORD": PASSWORD}
    command = [sys.executable, "-m", "tellakit.cli", "org", "pull", server.url, str(dest)]
    command += ["--login", USER, "--root", ROOT, "--identity", str(organization.key_file)]
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while _part_bytes(dest) < 1024 * 1024:
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the download never got going"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    kept = _part_bytes(dest)
    assert 0 < kept < SIZE
    assert [p.name for p in dest.iterdir()] == [WORK_FOLDER]  # nothing half-written in DEST

    server.faults.bandwidth(None)
    started = time.time()  # the killed GET is logged late, when the server notices the hang-up
    frame = org.pull(server.url, USER, PASSWORD, ROOT, organization.key_file, dest)
    assert list(frame["status"]) == ["verified"]
    assert (dest / frame["dest"][0] / "clip.mp4").read_bytes() == data
    gets = [
        r
        for r in server.log
        if r.method == "GET" and r.path.endswith("/1.age") and r.time >= started
    ]
    assert len(gets) == 1
    sealed_size = (field_vault.files_root / report.folder / "1.age").stat().st_size
    # only the rest was asked for: the bytes kept from the killed run were not fetched again
    assert gets[0].status == 206
    assert gets[0].bytes_out == sealed_size - kept
