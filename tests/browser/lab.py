"""The browser harness: JupyterLab on a free port with a token, Debian's Chromium via Playwright.

JupyterLab runs from this checkout's environment in a scratch folder of its own (config, data,
runtime, settings and workspaces), so a developer's own Jupyter setup plays no part. No browser
is ever downloaded: Playwright drives /usr/bin/chromium through ``executable_path``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = REPO / "test-output" / "browser"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Lab:
    """A running JupyterLab: where it serves, its token, its root folder."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}"

    def api(self, method: str, path: str) -> Any:
        resp = requests.request(
            method,
            f"{self.url}{path}",
            headers={"Authorization": f"token {self.token}"},
            timeout=10,
        )
        resp.raise_for_status()
        return resp.json() if resp.content else None

    def shutdown_kernels(self) -> None:
        """Stop every kernel (a notebook opened next starts a fresh one)."""
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def _kernelspec(data_dir: Path, python: str) -> None:
    """Make "python3" run on ``python`` (e.g. an environment with ipykernel 6)."""
    spec = data_dir / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "Python 3 (ipykernel)", "language": "python"})
    )


def start_lab(
    scratch: Path,
    env_extra: dict[str, str],
    notebooks: list[Path],
    *,
    kernel_python: str | None = None,
) -> Lab:
    """Start JupyterLab serving ``scratch/root`` (the notebooks are copied there).

    ``kernel_python``: run notebooks on another interpreter (default: the one running this).
    """
    root = scratch / "root"
    root.mkdir(parents=True)
    if kernel_python:
        _kernelspec(scratch / "kernel-path", kernel_python)
    for nb in notebooks:
        shutil.copy(nb, root / nb.name)
    settings = scratch / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    # No "get Jupyter news?" toast over the app in screenshots.
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    token = secrets.token_hex(16)
    port = free_port()
    env = dict(os.environ)
    env.update(
        {
            "JUPYTER_CONFIG_DIR": str(scratch / "config"),
            "JUPYTER_DATA_DIR": str(scratch / "data"),
            "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(scratch / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(scratch / "workspaces"),
            "IPYTHONDIR": str(scratch / "ipython"),
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p
            ),
        }
    )
    if kernel_python:  # JUPYTER_PATH comes before every other data folder
        env["JUPYTER_PATH"] = str(scratch / "kernel-path")
    env.update(env_extra)
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.port={port}",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.open_browser=False",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--ServerApp.allow_root=True")  # CI containers run as root
    log_path = scratch / "jupyterlab.log"
    process = subprocess.Popen(
        command, env=env, cwd=root, stdout=log_path.open("wb"), stderr=subprocess.STDOUT
    )
    lab = Lab(f"http://127.0.0.1:{port}", token, root, process, log_path)
    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited: {log_path.read_text()[-2000:]}")
        try:
            if requests.get(f"{lab.url}/api/status?token={token}", timeout=2).ok:
                return lab
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            lab.stop()
            raise RuntimeError(f"JupyterLab did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.2)


URL = re.compile(r"(http://127\.0\.0\.1:\d+)(/\S*)\?token=(\w+)")


@dataclass
class Running:
    """A ``tellakit lab`` or ``tellakit app`` process and the address it printed."""

    process: subprocess.Popen[str]
    base: str
    path: str
    token: str
    root: Path
    tmpdir: Path
    data_dir: Path
    lab_home: Path
    output: list[str]

    @property
    def url(self) -> str:
        return f"{self.base}{self.path}?token={self.token}"

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"token {self.token}"}
        return requests.request(method, f"{self.base}{path}", headers=headers, timeout=30, **kwargs)

    drain: threading.Thread | None = None

    def finished_output(self, timeout: float = 30) -> str:
        """Everything it printed, once it has exited."""
        self.process.wait(timeout)
        if self.drain is not None:
            self.drain.join(timeout)
        return "".join(self.output)

    def kill(self) -> None:
        """Stop it as Ctrl-C does (it stops its Jupyter server), or kill it after a minute."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def _drain(stream: Any, output: list[str], log: Any) -> None:
    with log:
        for line in stream:
            log.write(line)
            output.append(line)


def start_tellakit(
    scratch: Path, args: list[str], env_extra: dict[str, str] | None = None
) -> Running:
    """``tellakit ARGS`` as a person starts it, in a folder holding the app notebook, with
    Jupyter's folders and $TMPDIR in ``scratch``; returns once it printed the app's address."""
    root = scratch / "root"
    (root / "notebooks").mkdir(parents=True)
    shutil.copy(REPO / "notebooks" / "01-field-reports.ipynb", root / "notebooks")
    tmpdir = scratch / "tmp"
    tmpdir.mkdir()
    env = dict(os.environ)
    env.update(
        TELLAKIT_LAB_HOME=str(scratch / "lab-home"),
        JUPYTER_CONFIG_DIR=str(scratch / "config"),
        JUPYTER_DATA_DIR=str(scratch / "data"),
        JUPYTERLAB_SETTINGS_DIR=str(scratch / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(scratch / "workspaces"),
        IPYTHONDIR=str(scratch / "ipython"),
        TMPDIR=str(tmpdir),
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
    )
    env.pop("JUPYTER_RUNTIME_DIR", None)
    env.update(env_extra or {})
    log = (scratch / "tellakit.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "tellakit.cli", *args],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    assert process.stdout is not None
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        log.write(line)
        output.append(line)
        match = URL.search(line)
        if match and "Open the app" in "".join(output[-4:]):
            running = Running(
                process,
                *match.groups(),
                root,
                tmpdir,
                scratch / "data",
                scratch / "lab-home",
                output,
            )
            # Keep reading: a full pipe would block the server's logging, and so the server.
            running.drain = threading.Thread(
                target=_drain, args=(process.stdout, output, log), daemon=True
            )
            running.drain.start()
            return running
    process.kill()
    raise RuntimeError("tellakit printed no address:\n" + "".join(output[-40:]))


class RssSampler:
    """Samples a process's resident memory every 50 ms inside ``with``; ``peak`` is the
    largest seen over every ``with`` block."""

    def __init__(self, process: Any) -> None:
        self.process = process
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except Exception:  # the process ended
                return

    def __enter__(self) -> RssSampler:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def kernel_of(lab: Lab) -> Any:
    """The one kernel process JupyterLab runs now (a psutil.Process)."""
    import psutil

    kernels = [
        p
        for p in psutil.Process(lab.process.pid).children(recursive=True)
        if "ipykernel" in " ".join(p.cmdline())
    ]
    assert len(kernels) == 1, kernels
    return kernels[0]
