"""The same app notebook as a web page (``tellakit app``, Voilà) and in Notebook 7; and with
JupyterLab's widget-state saving turned on, a saved notebook keeps no report text.

Each test starts tellakit as a person does and drives Debian's Chromium through Playwright.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .app_steps import add_files, new_report, run_first_code_cell, shot, submit_and_wait, unlock
from .conftest import USER, _skip_reason
from .lab import Lab, Running, start_tellakit

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

SECRET_TITLE = "Arrests at the northern checkpoint"
SECRET_TEXT = "Three people taken at 02:40 by unmarked cars"


@pytest.fixture
def tellakit(tmp_path: Path) -> Iterator[Any]:
    """Starts ``tellakit ARGS`` (stopped with Ctrl-C at the end)."""
    if _skip_reason():
        pytest.skip(_skip_reason())
    started: list[Running] = []

    def start(*args: str) -> Running:
        started.append(start_tellakit(tmp_path, list(args)))
        return started[-1]

    yield start
    for running in started:
        running.kill()


def server_copy(running: Running, title: str, name: str) -> Path:
    """Where `tellakit lab/app`'s development server keeps a submitted file (user "demo")."""
    return running.lab_home / "ncdata" / "demo" / "files" / "Tella" / title / name


def test_tellakit_app_serves_the_app_as_a_page_without_code_and_submits(
    tellakit: Any, browser: Any, tmp_path: Path
) -> None:
    app = tellakit("app", "--no-browser", "--port", "0")
    photo = tmp_path / "bridge.jpg"
    photo.write_bytes(os.urandom(3 * 1024 * 1024))
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.set_default_timeout(60_000)
    page.goto(app.url)
    page.wait_for_selector(".tk-passphrase input", timeout=120_000)
    assert "from tellakit.ui import App" not in page.content()  # no code cell shown
    assert page.locator(".jp-CodeCell .jp-InputArea, .jp-CodeMirrorEditor").count() == 0
    unlock(page)  # the app connects to tellakit app's development server by itself
    shot(page, "20-voila-home", whole_page=True)
    new_report(page, "From the web page", "Sent from tellakit app.")
    add_files(page, photo)
    page.locator(".tk-attachment", has_text="bridge.jpg").wait_for()
    submit_and_wait(page)
    shot(page, "21-voila-submitted", whole_page=True)
    assert server_copy(app, "From the web page", "bridge.jpg").read_bytes() == photo.read_bytes()
    page.close()


def test_the_app_runs_in_notebook_7(
    browser: Any, lab: Lab, devserver_lab: tuple[Any, str], tmp_path: Path
) -> None:
    server, _ = devserver_lab
    lab.shutdown_kernels()
    note = tmp_path / "note.txt"
    note.write_bytes(b"seen in notebook 7\n" * 1000)
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.set_default_timeout(60_000)
    page.goto(f"{lab.url}/notebooks/01-field-reports.ipynb?token={lab.token}")
    page.wait_for_selector("#main-panel .jp-NotebookPanel", timeout=90_000)  # Notebook 7's shell
    run_first_code_cell(page)
    unlock(page)
    new_report(page, "From Notebook 7")
    add_files(page, note)
    page.locator(".tk-attachment", has_text="note.txt").wait_for()
    submit_and_wait(page)
    shot(page, "22-notebook7-submitted", whole_page=True)
    remote = server.files_root(USER) / "Tella" / "From Notebook 7" / "note.txt"
    assert remote.read_bytes() == note.read_bytes()
    page.close()


def test_saving_with_widget_state_on_writes_no_report_text(
    tellakit: Any, browser: Any, tmp_path: Path
) -> None:
    # Turn "Save Widget State Automatically" on, as the person in the issue had.
    plugin = tmp_path / "settings" / "@jupyter-widgets" / "jupyterlab-manager"
    plugin.mkdir(parents=True)
    (plugin / "plugin.jupyterlab-settings").write_text(json.dumps({"saveState": True}))
    news = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    lab = tellakit("lab", "--no-browser", "--port", "0")
    notebook = lab.root / "notebooks" / "01-field-reports.ipynb"
    # A widget that is not the app's: its state must still be saved (proves saving was on).
    content = json.loads(notebook.read_text())
    content["cells"].append(
        {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": ["import ipywidgets\n", "ipywidgets.Text(value='canary-widget-kept')"],
        }
    )
    notebook.write_text(json.dumps(content))
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(60_000)
    page.goto(lab.url)
    run_first_code_cell(page)  # runs the app cell, selects the canary cell
    page.keyboard.press("Shift+Enter")
    page.wait_for_selector("input[value='canary-widget-kept'], .widget-text input")
    unlock(page)
    new_report(page, SECRET_TITLE, SECRET_TEXT)
    page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+s")
    checkpoint = notebook.parent / ".ipynb_checkpoints" / "01-field-reports-checkpoint.ipynb"
    deadline = time.monotonic() + 60
    # Saving writes the notebook, then its checkpoint: both from this save (the canary).
    while not all(
        f.exists() and "canary-widget-kept" in f.read_text() for f in (notebook, checkpoint)
    ):
        assert time.monotonic() < deadline, "the notebook was not saved with widget state"
        time.sleep(0.5)
    shot(page, "23-saved-with-widget-state", whole_page=True)
    saved = notebook.read_text()
    assert '"application/vnd.jupyter.widget-state+json"' in saved
    for text in (saved, checkpoint.read_text()):
        assert SECRET_TITLE not in text and SECRET_TEXT not in text
    page.close()
