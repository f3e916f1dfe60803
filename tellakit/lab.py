"""``tellakit lab`` and ``tellakit app``: the app notebook in JupyterLab, or as a web page.

Both start the development server in this process (a background thread) for as long as the
Jupyter server runs, and tell the notebook's kernels about it through environment variables; a
user who connects to a real Nextcloud simply ignores them. ``tellakit app --no-devserver``
starts none: the app uses the connection saved in the vault. The Jupyter server runs as a child
(tellakit/launch.py, tellakit/jupyter_child.py) with the pre-save hook that keeps the app's
widget state out of saved notebooks (tellakit/notebook_state.py); Ctrl-C stops it the way
Jupyter itself stops.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from tellakit.labenv import ENV_LAB_HOME, ENV_PASSWORD, ENV_URL, ENV_USER

APP_NOTEBOOK = Path("notebooks") / "01-field-reports.ipynb"
DEMO_USER = "demo"
PRE_SAVE_HOOK = "tellakit.notebook_state.pre_save_hook"


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


@contextmanager
def _app_environment(*, devserver: bool) -> Iterator[dict[str, str]]:
    """The kernels' environment; with ``devserver``, the development server runs meanwhile."""
    home = lab_home()
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault(ENV_LAB_HOME, str(home))
    if not devserver:
        for name in (ENV_URL, ENV_USER, ENV_PASSWORD):
            env.pop(name, None)  # the app uses the connection saved in the vault
        yield env
        return
    from tellakit.devserver import DevServer

    password = _demo_password(home)
    server = DevServer(home / "ncdata", users={DEMO_USER: password}).start()
    print(f"Development server (Nextcloud-compatible): {server.url}  user: {DEMO_USER}", flush=True)
    env.update({ENV_URL: server.url, ENV_USER: DEMO_USER, ENV_PASSWORD: password})
    try:
        yield env
    finally:
        server.stop()


def _as_root() -> bool:
    # Containers and CI machines run as root; Jupyter refuses that unless told.
    return hasattr(os, "geteuid") and os.geteuid() == 0


def lab_command(port: int, runtime_dir: Path, notebook: Path = APP_NOTEBOOK) -> list[str]:
    """JupyterLab on 127.0.0.1:``port``, saving notebooks without the app's widget state."""
    command = [
        sys.executable,
        "-m",
        "tellakit.jupyter_child",  # stopped by SIGINT as a second Ctrl-C stops it
        "lab",
        f"--ServerApp.port={port}",
        f"--ServerApp.runtime_dir={runtime_dir}",
        f"--ServerApp.root_dir={Path.cwd()}",  # else the notebook's folder, and the path differs
        "--ServerApp.port_retries=0",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.open_browser=False",
        f"--ContentsManager.pre_save_hook={PRE_SAVE_HOOK}",
        str(notebook),
    ]
    if _as_root():
        command.insert(-1, "--ServerApp.allow_root=True")
    return command


def app_command(port: int, runtime_dir: Path, notebook: Path = APP_NOTEBOOK) -> list[str]:
    """Voilà on 127.0.0.1:``port``: the notebook's outputs as a page, no code shown."""
    return [
        sys.executable,
        "-m",
        "tellakit.jupyter_child",
        "voila",
        f"--port={port}",
        "--Voila.port_retries=0",
        "--Voila.ip=127.0.0.1",
        "--no-browser",
        "--Voila.auto_token=True",  # the token comes from launch.run_server's token file
        "--strip_sources=True",
        "--theme=light",
        f"--Voila.connection_dir_root={runtime_dir}",  # kernel files in the private folder
        str(notebook),
    ]


def run_lab(*, port: int = 8888, open_browser: bool = True) -> int:
    """The development server, then JupyterLab on the app notebook; Ctrl-C stops both."""
    from tellakit.launch import run_server

    with _app_environment(devserver=True) as env:
        return run_server(
            lab_command,
            env,
            port=port,
            open_path=f"/lab/tree/{quote(APP_NOTEBOOK.as_posix())}",
            open_browser=open_browser,
            name="JupyterLab",
        )


def run_app(*, port: int = 8866, open_browser: bool = True, devserver: bool = True) -> int:
    """The app notebook as a standalone web page (Voilà); Ctrl-C stops it."""
    from tellakit.launch import run_server

    with _app_environment(devserver=devserver) as env:
        return run_server(
            app_command,
            env,
            port=port,
            open_path="/",
            open_browser=open_browser,
            name="The tellakit app",
        )
