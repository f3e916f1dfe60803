"""``tellakit lab`` as a person runs it: the address it prints opens the app notebook, saving a
notebook drops the app's widget state, and Ctrl-C leaves no process and no runtime file."""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tellakit.lab import APP_NOTEBOOK

from .lab import Running, start_tellakit

pytest.importorskip("jupyterlab", reason="tellakit[lab] extra not installed")
pytest.importorskip("wsgidav", reason="tellakit[devserver] extra not installed")
psutil = pytest.importorskip("psutil", reason="psutil (comes with ipykernel) not installed")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Running]:
    running = start_tellakit(tmp_path, ["lab", "--no-browser", "--port", "0"])
    try:
        yield running
    finally:
        running.kill()


def test_the_printed_address_opens_the_app_notebook(lab: Running) -> None:
    assert lab.path == f"/lab/tree/{APP_NOTEBOOK.as_posix()}"
    assert requests.get(f"{lab.base}{lab.path}?token={lab.token}", timeout=30).ok
    notebook = lab.api("GET", f"/api/contents/{APP_NOTEBOOK.as_posix()}")
    assert notebook.ok and notebook.json()["type"] == "notebook"
    assert requests.get(f"{lab.base}/api/contents", timeout=30).status_code == 403  # token needed


def test_saving_a_notebook_drops_the_apps_widget_state(lab: Running, tmp_path: Path) -> None:
    state = {
        "version_major": 2,
        "version_minor": 0,
        "state": {
            "app": {"model_name": "VBoxModel", "state": {"_dom_classes": ["tellakit-app"]}},
            "title": {
                "model_name": "TextModel",
                "state": {"_dom_classes": ["tk-title"], "value": "Secret report title"},
            },
            "other": {"model_name": "IntSliderModel", "state": {"value": 7}},
        },
    }
    state["state"]["app"]["state"]["children"] = ["IPY_MODEL_title"]
    content = {
        "cells": [],
        "metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": state}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = "notebooks/saved.ipynb"
    saved = lab.api("PUT", f"/api/contents/{path}", json={"type": "notebook", "content": content})
    assert saved.ok, saved.text
    lab.api("POST", f"/api/contents/{path}/checkpoints").raise_for_status()
    root = lab.root
    for written in (root / path, root / "notebooks/.ipynb_checkpoints/saved-checkpoint.ipynb"):
        text = written.read_text()
        assert "Secret report title" not in text
        kept = json.loads(text)["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]
        assert set(kept["state"]) == {"other"}  # widgets not of the app are kept


def descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def test_sigint_stops_jupyterlab_its_kernels_and_the_devserver_leaving_no_runtime_file(
    lab: Running,
) -> None:
    session = lab.api(
        "POST",
        "/api/sessions",
        json={"path": APP_NOTEBOOK.as_posix(), "type": "notebook", "kernel": {"name": "python3"}},
    )
    assert session.ok, session.text
    deadline = time.monotonic() + 60
    while not any("ipykernel" in " ".join(p.cmdline()) for p in descendants(lab.process.pid)):
        assert time.monotonic() < deadline, "the kernel did not start"
        time.sleep(0.2)
    children = descendants(lab.process.pid)
    [runtime] = list(lab.tmpdir.glob("tellakit-jupyter-*"))
    assert any(runtime.glob("jpserver-*.json")) and any(runtime.glob("kernel-*.json"))
    devserver = re.search(r"Development server .*?: (\S+)", "".join(lab.output))
    assert devserver is not None and requests.get(f"{devserver[1]}/status.php", timeout=10).ok

    lab.process.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal does
    assert lab.process.wait(60) == 0
    rest = lab.finished_output()
    _, alive = psutil.wait_procs(children, timeout=15)
    assert alive == [], f"still running: {[p.cmdline() for p in alive]}"
    # Jupyter's own clean-up ran (it logs each kernel it shuts down), not a kill.
    assert f"Kernel shutdown: {session.json()['kernel']['id']}" in rest, rest[-3000:]
    assert list(lab.tmpdir.iterdir()) == []  # the private runtime folder is gone
    default_runtime = lab.data_dir / "runtime"
    assert not default_runtime.exists() or list(default_runtime.iterdir()) == []
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{devserver[1]}/status.php", timeout=5)


def test_jupyterlab_stops_by_itself_when_tellakit_is_killed(lab: Running) -> None:
    [jupyter] = [
        p for p in descendants(lab.process.pid) if "jupyter_child" in " ".join(p.cmdline())
    ]
    [runtime] = list(lab.tmpdir.glob("tellakit-jupyter-*"))
    lab.process.kill()  # no chance to clean up: JupyterLab, in its own session, notices
    lab.process.wait(10)
    _, alive = psutil.wait_procs([jupyter], timeout=30)
    assert alive == []
    assert list(runtime.glob("jpserver-*")) == []  # Jupyter's own clean-up ran
