"""Run the app notebook (notebooks/01-field-reports.ipynb) with nbclient and drive it to a
submitted report, against the development server named in the environment.

Used by binder/start's test (tests/test_binder.py) and by scripts/check-lab.sh. It reads the
variables ``tellakit lab`` and ``binder/start`` give their kernels (TELLAKIT_DEVSERVER_URL,
TELLAKIT_DEVSERVER_USER, TELLAKIT_DEVSERVER_PASSWORD, TELLAKIT_LAB_HOME); the vault is created
in ``$TELLAKIT_LAB_HOME/vault``, so point TELLAKIT_LAB_HOME at a fresh folder.

After the notebook's own cells it appends cells that do what a person clicks (create the vault,
wait for the app to connect, write a report with one file, submit) and prints one JSON line on
stdout: the report's title and remote folder, the server the app connected to, and where the
kernel imported tellakit from. Exit status 0 only if the report was submitted and verified.

    python scripts/run_app_notebook.py [--notebook PATH] [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "01-field-reports.ipynb"
MARKER = "TELLAKIT-CHECK-RESULT "
PASSPHRASE_ENV = "TELLAKIT_CHECK_PASSPHRASE"  # noqa: S105 - the name of a variable
TITLE = "Lab check"
NOTE = b"written by scripts/run_app_notebook.py\n" * 50

# What a person does in the app, as code cells (the widgets' own click handlers run).
DRIVER_CELLS = [
    f"""
import json, os
import tellakit
screen = app.screen
assert type(screen).__name__ == "UnlockView" and screen.creating, "expected a fresh vault"
screen.passphrase.value = os.environ[{PASSPHRASE_ENV!r}]
screen.confirmation.value = os.environ[{PASSPHRASE_ENV!r}]
screen.unlock_button.click()
assert app.wait(120), "unlocking took too long"
assert type(app.screen).__name__ == "HomeView" and app.screen.connected, app.message.text
""",
    f"""
app.screen.open_button.click()
app.screen.new_button.click()
form = app.screen
form.title_input.value = {TITLE!r}
form.description.value = "Checked by scripts/run_app_notebook.py."
note = {NOTE!r}
# What the browser sends for a file chosen with "Add files" (tellakit/ui/browser_import.js).
form.upload.imports.handle({{"kind": "begin", "id": "n1", "name": "note.txt", "size": len(note),
                             "mime": "text/plain"}})
form.upload.imports.handle({{"kind": "slice", "id": "n1", "seq": 0, "offset": 0}}, [note])
form.upload.imports.handle({{"kind": "end", "id": "n1", "size": len(note)}})
form.save_button.click()
assert form.message.text == "Draft saved", form.message.text
form.submit_button.click()
assert app.submitter.wait(timeout=120), "the upload did not finish in time"
""",
    f"""
report = app.vault.list_reports()[0]
settings = app.vault.get_connection()
print({MARKER!r} + json.dumps({{
    "title": report.title,
    "status": report.status.value,
    "reason": report.reason,
    "remote_folder": report.remote_folder,
    "server_url": settings.server_url,
    "user_id": settings.user_id,
    "files": [a.state.value for a in report.attachments],
    "tellakit_file": tellakit.__file__,
}}))
""",
]


def run(notebook: Path, timeout: float) -> dict:
    """Execute ``notebook`` plus the driver cells; return the result the last cell printed."""
    import nbclient
    import nbformat

    for name in ("TELLAKIT_DEVSERVER_URL", "TELLAKIT_DEVSERVER_USER", "TELLAKIT_LAB_HOME"):
        if not os.environ.get(name):
            raise SystemExit(f"run_app_notebook: ${name} is not set (see the module docstring)")
    os.environ.setdefault(PASSPHRASE_ENV, "check " + secrets.token_urlsafe(12))
    nb = nbformat.read(notebook, as_version=4)
    nb.cells += [nbformat.v4.new_code_cell(src.strip()) for src in DRIVER_CELLS]
    # The kernel runs outside the checkout, so it imports the installed tellakit.
    with tempfile.TemporaryDirectory(prefix="tellakit-nb-") as workdir:
        client = nbclient.NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": workdir}}
        )
        client.execute()
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            for line in str(out.get("text", "")).splitlines():
                if line.startswith(MARKER):
                    return dict(json.loads(line[len(MARKER) :]))
    raise SystemExit("run_app_notebook: the notebook printed no result")


def main(argv: list[str] | None = None) -> int:
    """Run the notebook; print the result as JSON; 0 when the report was submitted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebook", type=Path, default=NOTEBOOK)
    parser.add_argument("--timeout", type=float, default=180, help="seconds per cell")
    args = parser.parse_args(argv)
    result = run(args.notebook, args.timeout)
    print(json.dumps(result), flush=True)
    ok = result["status"] == "submitted" and result["files"] == ["verified"]
    if not ok:
        print(f"run_app_notebook: the report was not submitted: {result}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
