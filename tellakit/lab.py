"""``tellakit lab``: JupyterLab on the app notebook, connected to the development server.

The development server runs in this process (a background thread) for as long as JupyterLab
does. The notebook finds it through environment variables that JupyterLab passes on to its
kernels; a user who connects to a real Nextcloud simply ignores them.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from tellakit.labenv import ENV_LAB_HOME, ENV_PASSWORD, ENV_URL, ENV_USER

APP_NOTEBOOK = Path("notebooks") / "01-field-reports.ipynb"
DEMO_USER = "demo"


def lab_home() -> Path:
    """Where ``tellakit lab`` keeps the demo server's files (never committed)."""
    return Path(os.environ.get(ENV_LAB_HOME, "lab-data")).resolve()


def _demo_password(home: Path) -> str:
    """The demo user's password, kept beside the demo data so a saved connection keeps working."""
    path = home / ".devserver-password"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(16))
    return path.read_text().strip()


def run_lab(*, port: int = 8888, open_browser: bool = True) -> int:
    """Start the development server, then JupyterLab on the app notebook; stop both on exit."""
    from tellakit.devserver import DevServer

    home = lab_home()
    home.mkdir(parents=True, exist_ok=True)
    password = _demo_password(home)
    server = DevServer(home / "ncdata", users={DEMO_USER: password}).start()
    print(f"Development server (Nextcloud-compatible): {server.url}  user: {DEMO_USER}", flush=True)
    env = dict(os.environ)
    env.update({ENV_URL: server.url, ENV_USER: DEMO_USER, ENV_PASSWORD: password})
    env.setdefault(ENV_LAB_HOME, str(home))
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.open_browser={open_browser}",
        str(APP_NOTEBOOK),
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Containers and CI machines run as root; JupyterLab refuses that unless told.
        command.insert(-1, "--allow-root")
    try:
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()
