"""Notebooks 02 (batch submission) and 03 (outbox and history) run top to bottom with nbclient
against the development server, and show no credentials."""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="tellakit[lab] extra not installed")
nbclient = pytest.importorskip("nbclient", reason="tellakit[lab] extra not installed")

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
USER = "analyst"


@pytest.fixture
def lab_env(devserver, monkeypatch):
    """The variables `tellakit lab` gives its kernels, for a user with a fresh password."""
    password = secrets.token_urlsafe(18)
    devserver.add_user(USER, password)
    monkeypatch.setenv("TELLAKIT_DEVSERVER_URL", devserver.url)
    monkeypatch.setenv("TELLAKIT_DEVSERVER_USER", USER)
    monkeypatch.setenv("TELLAKIT_DEVSERVER_PASSWORD", password)
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(REPO), path) if p))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel picks its inline backend
    return devserver, password


def run_notebook(name: str, tmp_path: Path):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    return nb


def output_text(nb) -> str:
    """Everything the notebook showed as text (streams, results, errors; not images)."""
    shown = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = {k: v for k, v in out.get("data", {}).items() if not k.startswith("image/")}
            shown.append(json.dumps({**out, "data": data}))
    return "\n".join(shown)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_02_batch_submission_runs_and_submits_every_good_row(lab_env, tmp_path):
    server, password = lab_env
    nb = run_notebook("02-batch-submission.ipynb", tmp_path)
    shown = output_text(nb)
    assert password not in shown
    assert "12 submitted, 0 failed, 0 not attempted" in shown
    assert "empty title" in shown and "no file matches" in shown
    root = server.files_root(USER) / "Batch demo"
    folders = sorted(p.name for p in root.iterdir())
    assert folders == [f"Site {n:02d} visit" for n in range(1, 13)]
    assert {p.name for p in (root / "Site 03 visit").iterdir()} >= {
        "IMG_030.png",
        "interview.wav",
        "notes.txt",
        "description.txt",
    }
    assert (root / "Site 03 visit" / "IMG_030.png").read_bytes().startswith(b"\x89PNG\r\n")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_03_outbox_and_history_runs_with_plots(lab_env, tmp_path):
    server, password = lab_env
    nb = run_notebook("03-outbox-and-history.ipynb", tmp_path)
    shown = output_text(nb)
    assert password not in shown
    assert "6 submitted, 0 failed, 0 not attempted" in shown
    assert "CSV and Parquet read back" in shown
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 2  # outbox bytes by state, submissions over time
    folders = {p.name for p in (server.files_root(USER) / "History demo").iterdir()}
    # six submitted, plus the folder of the report paused midway (it resumes into that folder)
    assert folders == {f"Interview {n}" for n in range(1, 7)} | {"Paused upload"}
    assert "paused" in shown


@pytest.mark.parametrize("name", ["02-batch-submission.ipynb", "03-outbox-and-history.ipynb"])
def test_stored_notebooks_show_no_credentials(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    shown = output_text(nb).lower()
    assert "password" not in shown
    assert "token" not in shown
    for cell in nb.cells:  # the source never holds a literal password
        assert not re.search(r"password\s*=\s*[\"']", cell.source, re.IGNORECASE)
