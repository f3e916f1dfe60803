"""A 300 MiB video chosen in the page streams into the vault and reaches the server intact; the
kernel stays small, and no clear text of it lands on disk on the way.

The file is random data with a marker string at the start of every MiB. After the import and
the submission, every file under the vault folder, the Jupyter server's $TMPDIR and Jupyter's
own folders (config, data, runtime, settings, workspaces, the served root) is searched for the
marker: only the encrypted vault blob may hold the file's bytes, and it holds them encrypted.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .app_steps import add_files, new_report, run_first_code_cell, shot, submit_and_wait, unlock
from .conftest import USER, _skip_reason
from .lab import REPO, Lab, RssSampler, kernel_of, start_lab

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]
pytest.importorskip("psutil", reason="psutil (comes with ipykernel) not installed")

MiB = 1024 * 1024
SIZE = 300 * MiB
RSS_LIMIT = 200 * MiB
TITLE = "Long video"
PARTLY_SENT = (
    "() => [...document.querySelectorAll('.tk-import-row progress')]"
    ".some(p => p.value > 0 && p.value < p.max)"
)


def write_marked_file(path: Path, marker: bytes, size: int) -> str:
    """Random bytes, the marker at the start of every MiB; returns the SHA-256."""
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(size // MiB):
            block = marker + os.urandom(MiB - len(marker))
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


def files_holding(marker: bytes, folders: list[Path]) -> list[Path]:
    """Every file under ``folders`` whose bytes contain ``marker``."""
    found = []
    for folder in folders:
        for path in folder.rglob("*") if folder.exists() else ():
            if not path.is_file() or path.is_symlink():
                continue
            with path.open("rb") as f:
                tail = b""
                while chunk := f.read(8 * MiB):
                    if marker in tail + chunk:
                        found.append(path)
                        break
                    tail = chunk[-len(marker) :]
    return found


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(8 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.fixture(scope="module")
def private_lab(
    devserver_lab: tuple[Any, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Lab, Path]]:
    """JupyterLab with its own $TMPDIR (to search it afterwards) and the app notebook."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    srv, password = devserver_lab
    scratch = tmp_path_factory.mktemp("streaming-lab")
    (scratch / "tmp").mkdir()
    env = {
        "TELLAKIT_DEVSERVER_URL": srv.url,
        "TELLAKIT_DEVSERVER_USER": USER,
        "TELLAKIT_DEVSERVER_PASSWORD": password,
        "TELLAKIT_LAB_HOME": str(scratch / "lab-home"),
        "TMPDIR": str(scratch / "tmp"),
    }
    running = start_lab(scratch, env, [REPO / "notebooks" / "01-field-reports.ipynb"])
    try:
        yield running, scratch
    finally:
        running.stop()


def test_a_300_mib_file_streams_into_the_vault_and_reaches_the_server_intact(
    browser: Any,
    private_lab: tuple[Lab, Path],
    devserver_lab: tuple[Any, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    lab, scratch = private_lab
    server, _ = devserver_lab
    marker = f"TELLAKIT-MARKER-{secrets.token_hex(8)}".encode()
    source = tmp_path_factory.mktemp("browser-side") / "interview.mp4"  # the person's own file
    expected = write_marked_file(source, marker, SIZE)

    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(30_000)
    page.goto(lab.notebook_url("01-field-reports.ipynb"))
    run_first_code_cell(page)
    unlock(page)
    new_report(page, TITLE, "Interview, 300 MiB, sent from the browser.")
    vault = scratch / "lab-home" / "vault"

    # Cancel half-way: the row says so, and nothing of the file stays in the vault.
    add_files(page, source)
    page.wait_for_function(PARTLY_SENT)
    page.locator(".tk-import-row button.tk-import-cancel").click()
    cancelled = page.locator(".tk-import-row.tk-import-cancelled")
    cancelled.wait_for()
    assert "Cancelled: nothing of interview.mp4 was kept." in cancelled.inner_text()
    assert [p for p in (vault / "blobs").rglob("*") if p.is_file()] == []
    cancelled.locator("button.tk-import-dismiss").click()

    kernel = kernel_of(lab)
    started = time.monotonic()
    with RssSampler(kernel) as rss:
        add_files(page, source)
        page.wait_for_function(PARTLY_SENT)
        shot(page, "11-streaming-import")
        page.locator(".tk-attachment", has_text="interview.mp4").wait_for(timeout=400_000)
    seconds = time.monotonic() - started
    assert rss.peak < RSS_LIMIT, f"kernel peak RSS {rss.peak / MiB:.0f} MiB during the import"
    (REPO / "test-output" / "browser").mkdir(parents=True, exist_ok=True)
    (REPO / "test-output" / "browser" / "streaming-import.txt").write_text(
        f"300 MiB browser -> vault in {seconds:.1f} s ({SIZE / seconds / 1e6:.1f} MB/s); "
        f"kernel peak RSS {rss.peak / MiB:.0f} MiB\n"
    )
    shot(page, "12-streamed-attachment")

    submit_and_wait(page, timeout_ms=400_000)
    remote = server.files_root(USER) / "Tella" / TITLE / "interview.mp4"
    assert remote.stat().st_size == SIZE and sha256_of(remote) == expected

    blobs = [p for p in (vault / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 1 and blobs[0].stat().st_size > SIZE  # encrypted: larger, no marker
    searched = [vault, scratch / "tmp", *(scratch / d for d in ("config", "data", "runtime"))]
    searched += [scratch / d for d in ("settings", "workspaces", "ipython", "root")]
    assert files_holding(marker, searched) == []
    assert files_holding(marker, [source.parent]) == [source]  # the search does find it
    page.close()
