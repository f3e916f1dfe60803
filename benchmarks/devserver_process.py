"""Start ``tellakit devserver`` as a separate process for a benchmark (shared by the scripts).

A subprocess, not the in-process DevServer, so the server's CPU and memory are measured apart
from the client's. It listens on a free loopback port and writes its URL, then its access log
lines, to stderr.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def devserver_process(
    data: Path, *options: str, env: Mapping[str, str] | None = None
) -> subprocess.Popen[str]:
    """``tellakit devserver --port 0 --data DATA OPTIONS...`` with stderr piped as text."""
    command = [sys.executable, "-m", "tellakit.cli", "devserver", "--port", "0"]
    return subprocess.Popen(
        [*command, "--data", str(data), *options],
        stderr=subprocess.PIPE,
        text=True,
        env=None if env is None else dict(env),
    )
