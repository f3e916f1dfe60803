"""Notebook 01 (the field-reports app) runs top to bottom with nbclient against the development
server, driven from code cells the way a person clicks, and keeps no credentials."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="tellakit[lab] extra not installed")
nbclient = pytest.importorskip("nbclient", reason="tellakit[lab] extra not installed")

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "01-field-reports.ipynb"
USER = "fieldworker"
TITLE = "Checkpoint at the bridge"
NOTE = b"field note\n" * 100

# Cells a person's clicks turn into: set values, click buttons, check what the app shows.
DRIVER_CELLS = [
    """
import os
from tellakit.ui.unlock import UnlockView
screen = app.screen
assert isinstance(screen, UnlockView) and screen.creating
screen.passphrase.value = os.environ["UI_TEST_PASSPHRASE"]
screen.confirmation.value = os.environ["UI_TEST_PASSPHRASE"]
screen.unlock_button.click()
assert app.wait(60)
assert type(app.screen).__name__ == "HomeView" and app.screen.connected, app.message.text
""",
    """
app.screen.open_button.click()
app.screen.new_button.click()
form = app.screen
form.save_button.click()
assert form.message.text.startswith("A report needs a title"), form.message.text
form.title_input.value = TITLE
form.description.value = "Two trucks, 14:05."
# What the browser sends for a file chosen with "Add files" (tellakit/ui/browser_import.js).
form.upload.imports.handle({"kind": "begin", "id": "n1", "name": "note.txt", "size": len(NOTE),
                            "mime": "text/plain"})
form.upload.imports.handle({"kind": "slice", "id": "n1", "seq": 0, "offset": 0}, [NOTE])
form.upload.imports.handle({"kind": "end", "id": "n1", "size": len(NOTE)})
form.save_button.click()
assert form.message.text == "Draft saved", form.message.text
""",
    """
form.submit_button.click()
upload_view = app.screen
assert app.submitter.wait(timeout=60)
upload_view.flush()
assert upload_view.state == "submitted", upload_view.status.value
assert [row.bar.value for row in upload_view.file_rows.values()] == [100.0]
assert upload_view.total_row.bar.value == 100.0
""",
    """
upload_view.back_button.click()
reports = app.screen
assert reports.tabs.selected_index == 2
[row] = reports.current.rows
print("submitted:", row.report.title, "->", row.report.remote_folder)
""",
]


@pytest.fixture
def lab_env(devserver, tmp_path, monkeypatch):
    """The variables `tellakit lab` gives its kernels, for a user with a fresh password."""
    password = secrets.token_urlsafe(18)
    passphrase = "nb " + secrets.token_urlsafe(12)
    devserver.add_user(USER, password)
    monkeypatch.setenv("TELLAKIT_DEVSERVER_URL", devserver.url)
    monkeypatch.setenv("TELLAKIT_DEVSERVER_USER", USER)
    monkeypatch.setenv("TELLAKIT_DEVSERVER_PASSWORD", password)
    monkeypatch.setenv("TELLAKIT_LAB_HOME", str(tmp_path / "lab"))
    monkeypatch.setenv("UI_TEST_PASSPHRASE", passphrase)
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(REPO), path) if p))
    return devserver, password, passphrase


def test_the_committed_notebook_is_one_app_cell_after_markdown_and_has_no_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    kinds = [c.cell_type for c in nb.cells]
    assert kinds == ["markdown", "code"]
    assert "App()" in nb.cells[1].source
    assert nb.cells[1].outputs == [] and "widgets" not in nb.metadata


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_01_runs_top_to_bottom_and_submits_a_report(lab_env, tmp_path):
    server, password, passphrase = lab_env
    nb = nbformat.read(NOTEBOOK, as_version=4)
    setup = f"TITLE = {TITLE!r}\nNOTE = {NOTE!r}"
    nb.cells += [nbformat.v4.new_code_cell(setup)]
    nb.cells += [nbformat.v4.new_code_cell(src.strip()) for src in DRIVER_CELLS]
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()

    shown = "\n".join(json.dumps(o) for c in nb.cells for o in c.get("outputs", []))
    assert f"submitted: {TITLE} -> Tella/{TITLE}" in shown
    assert "application/vnd.jupyter.widget-view+json" in json.dumps(nb.cells[1].outputs)
    folder = server.files_root(USER) / "Tella" / TITLE
    assert (folder / "note.txt").read_bytes() == NOTE
    assert (folder / "description.txt").exists()
    assert (tmp_path / "lab" / "vault" / "identity.age").exists()
    # Nothing secret in what a saved notebook would hold: outputs and the widget state.
    saved = nbformat.writes(nb)
    assert "widgets" in nb.metadata  # nbclient stored the widget state; it is checked too
    for secret in (password, passphrase):
        assert secret not in saved
    assert NOTE.decode()[:30] not in json.dumps(nb.metadata)  # no plaintext of the attachment
