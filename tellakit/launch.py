"""Run a Jupyter web server (JupyterLab or Voilà) as a child, and stop it the way Jupyter
expects.

The child gets its own session, so a Ctrl-C in the terminal reaches only ``tellakit``, which
forwards exactly one SIGINT (a second one would cut Jupyter's own clean-up short), waits, then
sends SIGTERM and, as a last resort, SIGKILL. Its runtime files (server info with the token,
kernel connection files, the browser's redirect page) live in a private folder that is removed
when it has stopped; the token itself reaches the child through a file in that folder, not
the command line (which other users can read) nor the environment (which kernels inherit).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import webbrowser
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import requests

__all__ = ["ServerChild", "free_port", "run_server"]

STARTUP_SECONDS = 120.0
SIGINT_WAIT = 20.0  # Jupyter shuts its kernels down on SIGINT; give it time
TERM_WAIT = 10.0


def free_port(preferred: int = 0) -> int:
    """``preferred`` if it is free on 127.0.0.1 (0: any free port)."""
    for port in (preferred, 0) if preferred else (0,):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError("no free port on 127.0.0.1")  # pragma: no cover - port 0 always binds


@dataclass
class ServerChild:
    """A Jupyter server started by ``run_server``: where it listens and how to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    token: str
    runtime_dir: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        """An address that opens ``path`` with the token."""
        return f"{self.base_url}{path}?token={self.token}"

    def stop(self) -> int:
        """SIGINT, wait; SIGTERM, wait; SIGKILL. A Ctrl-C meanwhile skips to the next step."""
        steps: list[tuple[Callable[[], None], float]] = [
            (lambda: self.process.send_signal(signal.SIGINT), SIGINT_WAIT),
            (self.process.terminate, TERM_WAIT),
            (self.process.kill, TERM_WAIT),
        ]
        for send, wait in steps:
            if self.process.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                send()
            try:
                self.process.wait(wait)
            except (subprocess.TimeoutExpired, KeyboardInterrupt):
                continue
        return self.process.wait()


def _wait_until_serving(child: ServerChild) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        if child.process.poll() is not None:
            raise RuntimeError(f"the server exited with status {child.process.returncode}")
        try:
            requests.get(f"{child.base_url}/", timeout=2, allow_redirects=False)
        except requests.ConnectionError:
            pass
        else:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not answer on port {child.port}")
        time.sleep(0.2)


def _open_browser(child: ServerChild, path: str) -> None:
    """Open the address through a redirect page in the private folder (no token in argv)."""
    page = child.runtime_dir / "open.html"
    url = child.url(path)
    page.write_text(
        f'<meta http-equiv="refresh" content="0; url={url}"><a href="{url}">tellakit</a>\n',
        encoding="utf-8",
    )
    page.chmod(0o600)
    webbrowser.open(page.as_uri())


@contextlib.contextmanager
def _terminate_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP (a closed terminal) stop tellakit as Ctrl-C does, with clean-up.

    SIGINT gets a handler too: a shell starts background jobs with SIGINT ignored, and an
    ignored signal stays ignored in the child, which would then never see the forwarded one.
    """

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    saved: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            saved[sig] = signal.signal(sig, interrupt)
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def run_server(
    command: Callable[[int, Path], Sequence[str]],
    env: Mapping[str, str],
    *,
    port: int,
    open_path: str,
    open_browser: bool,
    name: str,
    cwd: Path | None = None,
) -> int:
    """Start ``command(port, runtime_dir)``, print the address of ``open_path``, wait until it
    ends; stop it on Ctrl-C.

    Returns the child's exit status (0 after a Ctrl-C).
    """
    runtime_dir = Path(tempfile.mkdtemp(prefix="tellakit-jupyter-"))  # mode 0700
    token = secrets.token_hex(24)
    token_file = runtime_dir / "token"
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token)
    child_env = {k: v for k, v in env.items() if k != "JUPYTER_TOKEN"}
    child_env.update(JUPYTER_RUNTIME_DIR=str(runtime_dir), JUPYTER_TOKEN_FILE=str(token_file))
    chosen = free_port(port)
    child: ServerChild | None = None
    try:
        with _terminate_on_signals():
            try:
                process = subprocess.Popen(
                    list(command(chosen, runtime_dir)),
                    env=child_env,
                    cwd=cwd,
                    stdin=subprocess.DEVNULL,  # no "Shut down this server (y/[n])?" prompt
                    start_new_session=True,  # the terminal's Ctrl-C reaches tellakit only
                )
                child = ServerChild(process, chosen, token, runtime_dir)
                _wait_until_serving(child)
                print(f"\n{name} is running. Open the app at:\n\n    {child.url(open_path)}\n")
                print("Press Ctrl-C to stop it.", flush=True)
                if open_browser:
                    _open_browser(child, open_path)
                return process.wait()
            except KeyboardInterrupt:
                print(f"\nStopping {name}…", flush=True)
                return 0
            finally:
                if child is not None:
                    child.stop()
    finally:
        shutil.rmtree(runtime_dir, ignore_errors=True)
