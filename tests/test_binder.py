"""binder/: the environment Binder builds runs the app notebook against the server start launched.

repo2docker is not run here (it needs Docker). The test does what it does, in order: a fresh
virtual environment, ``pip install -r binder/requirements.txt``, ``binder/postBuild`` from the
repository root with that environment first on PATH, then ``binder/start <command>`` with HOME
in tmp_path. The command is scripts/run_app_notebook.py, which executes
notebooks/01-field-reports.ipynb with nbclient and drives the app to a submitted report.

One shortcut, so the test stays fast and needs no download of the dependencies: the fresh
environment (made from the same base interpreter, without --system-site-packages) sees the
test environment's site-packages through a .pth file. That stands in for the wheels Binder
would download from PyPI; tellakit itself is still built and installed by postBuild (pip's
isolated build fetches setuptools from the configured index), and the kernel imports that copy.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BINDER = REPO / "binder"
# What repo2docker copies that the build and the notebook need (a clone holds more).
TREE = ["pyproject.toml", "README.md", "tellakit", "binder", "notebooks", "scripts"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fresh_env(tmp_path: Path) -> Path:
    """A new venv whose site-packages also see this environment's installed packages."""
    base = getattr(sys, "_base_executable", sys.executable)
    venv = tmp_path / "venv"
    subprocess.run([base, "-m", "venv", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    deps = sysconfig.get_paths()["purelib"]
    assert Path(deps).resolve() != Path(purelib).resolve()
    (Path(purelib) / "_tellakit_test_deps.pth").write_text(deps + "\n")
    return venv


def _copy_tree(dest: Path) -> Path:
    dest.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
    for name in TREE:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        else:
            shutil.copy2(src, dest / name)
    return dest


def _stop(pid_file: Path, proc: subprocess.Popen[str]) -> None:
    """Stop the dev server start left running (its pid file), then anything else of the group."""
    if pid_file.exists():
        pid = int(pid_file.read_text().strip())
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        else:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def test_binder_scripts_are_executable_bash_that_parses() -> None:
    for name in ("postBuild", "start"):
        script = BINDER / name
        assert os.access(script, os.X_OK), f"binder/{name} must be executable"
        assert script.read_text().startswith("#!/bin/bash\n")
        subprocess.run(["bash", "-n", str(script)], check=True)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_postbuild_and_start_run_the_app_notebook_against_their_dev_server(tmp_path):
    pytest.importorskip("nbclient", reason="tellakit[lab] extra not installed")
    pytest.importorskip("wsgidav", reason="tellakit[devserver] extra not installed")
    if sys.prefix == sys.base_prefix:
        pytest.skip("needs to run from a virtual environment (its packages stand in for PyPI)")
    venv = _fresh_env(tmp_path)
    repo = _copy_tree(tmp_path / "repo")
    home = tmp_path / "home"
    home.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TELLAKIT_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", HOME=str(home))

    def run(*cmd: str) -> None:
        done = subprocess.run(
            cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=150, check=False
        )
        assert done.returncode == 0, f"{cmd} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"

    run("python", "-m", "pip", "install", "--quiet", "-r", "binder/requirements.txt")
    run("binder/postBuild")
    assert (venv / "bin" / "tellakit").exists(), "postBuild did not install the tellakit command"
    hook = venv / "etc" / "jupyter" / "jupyter_server_config.d" / "tellakit.json"
    assert json.loads(hook.read_text())["ContentsManager"]["pre_save_hook"] == (
        "tellakit.notebook_state.pre_save_hook"
    )

    port = _free_port()
    env["TELLAKIT_DEVSERVER_PORT"] = str(port)
    lab_home = home / ".tellakit-lab"
    proc = subprocess.Popen(
        ["binder/start", "python", "scripts/run_app_notebook.py", "--timeout", "120"],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # one process group: the runner and the server start left
    )
    try:
        out, err = proc.communicate(timeout=150)
    finally:
        _stop(lab_home / "devserver.pid", proc)
    assert proc.returncode == 0, f"stdout:\n{out[-3000:]}\nstderr:\n{err[-3000:]}"

    result = json.loads(out.strip().splitlines()[-1])
    assert result["server_url"] == f"http://127.0.0.1:{port}"
    assert result["user_id"] == "demo"
    assert result["status"] == "submitted" and result["files"] == ["verified"]
    # The kernel used the copy postBuild installed, not the checkout.
    assert Path(result["tellakit_file"]).is_relative_to(venv)
    # The report is in the data folder of the server start launched, and its log names the port.
    folder = lab_home / "ncdata" / "demo" / "files" / result["remote_folder"]
    assert (folder / "note.txt").read_bytes().startswith(b"written by scripts/run_app_notebook")
    assert (folder / "description.txt").exists()
    assert f"listening on http://127.0.0.1:{port}" in (lab_home / "devserver.log").read_text()
