"""What a person does in the app in a browser, shared by the browser tests: run the app cell,
unlock, open a new report, choose files for "Add files", and screenshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .lab import SCREENSHOTS

PASSPHRASE = "lantern meadow copper violin"


def shot(page: Any, name: str, *, whole_page: bool = False) -> None:
    """Save the app (or the whole page) as test-output/browser/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = str(SCREENSHOTS / f"{name}.png")
    if whole_page:
        page.screenshot(path=path)
    else:
        page.locator(".tellakit-app").screenshot(path=path)


def run_first_code_cell(page: Any, attempts: int = 5) -> None:
    """Click into the app cell and run it (JupyterLab and Notebook 7 alike). A notebook still
    loading may swallow the keys, so try again until the app shows (running the cell again
    only replaces its output); a "Select Kernel" question is answered with the preferred one,
    as a person would."""
    page.wait_for_selector(".jp-CodeCell .cm-content", timeout=90_000)
    for attempt in range(attempts):
        page.locator(".jp-CodeCell .cm-content").first.click()
        page.keyboard.press("Shift+Enter")
        try:
            found = page.wait_for_selector(".tk-passphrase input, .jp-Dialog", timeout=30_000)
            if found is not None and "jp-Dialog" in (found.get_attribute("class") or ""):
                page.locator(".jp-Dialog button.jp-mod-accept").click()
                continue
        except Exception:
            if attempt == attempts - 1:
                raise
        else:
            return
    page.wait_for_selector(".tk-passphrase input", timeout=30_000)


def unlock(page: Any) -> None:
    """Type the passphrase (twice when the vault is new) and wait for the home screen."""
    page.locator(".tk-passphrase input").fill(PASSPHRASE)
    confirmation = page.locator(".tk-confirmation input")
    if confirmation.count():
        confirmation.fill(PASSPHRASE)
    page.locator("button.tk-unlock").click()
    page.wait_for_selector("button.tk-card-open", timeout=60_000)


def new_report(page: Any, title: str, description: str = "") -> None:
    """Home › Nextcloud › New report, then type the title and description."""
    page.locator("button.tk-card-open").click()
    page.locator("button.tk-new-report").click()
    page.wait_for_selector(".tk-title input")
    page.locator(".tk-title input").fill(title)
    if description:
        page.locator(".tk-description textarea").fill(description)


def add_files(page: Any, *paths: Path) -> None:
    """Choose files with "Add files" (the streaming import), as the browser's dialog would."""
    page.locator(".tk-upload input.tk-browser-import-input").set_input_files(
        [str(p) for p in paths]
    )


def submit_and_wait(page: Any, timeout_ms: int = 120_000) -> None:
    """Submit, then wait until the upload view says every file is on the server, verified."""
    page.locator("button.tk-submit").click()
    page.wait_for_selector(".tk-upload-status .tk-state-submitted", timeout=timeout_ms)
