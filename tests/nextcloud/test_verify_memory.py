"""Download verification of 1 GiB in constant memory: peak RSS of the verifying process.

The file is written at test time straight into the development server's storage; the
download and hash run in a child process, whose peak resident memory (VmHWM) is what counts.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from typing import Any

import pytest

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
SIZE = 1024 * MIB
PEAK_LIMIT_MIB = 120

CHILD = """
import json, os
from tellakit.nextcloud import Credentials, NextcloudClient

def vm_hwm_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

with NextcloudClient(Credentials(os.environ["URL"], "alice", os.environ["PW"])) as client:
    client.current_user()
    before = vm_hwm_mib()
    digest = client.download_sha256("big.bin")
print(json.dumps({"sha256": digest.sha256, "size": digest.size, "kind": digest.kind.value,
                  "before": before, "peak": vm_hwm_mib()}))
"""


@pytest.mark.timeout(600)
def test_one_gib_is_downloaded_and_hashed_in_constant_memory(devserver: Any) -> None:
    expected = hashlib.sha256()
    block = os.urandom(16 * MIB)
    with (devserver.files_root("alice") / "big.bin").open("wb") as out:
        for i in range(SIZE // len(block)):
            piece = bytes([i % 251]) + block[1:]  # not one block repeated end to end
            out.write(piece)
            expected.update(piece)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD],
        env={**os.environ, "URL": devserver.url, "PW": "secret"},
        capture_output=True,
        text=True,
        timeout=500,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["sha256"] == expected.hexdigest()
    assert result["size"] == SIZE and result["kind"] == "download"
    assert result["peak"] < PEAK_LIMIT_MIB, result
