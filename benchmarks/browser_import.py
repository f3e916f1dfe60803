"""Browser to vault: the app's "Add files" (streaming import) next to JupyterLab's own upload.

One JupyterLab (the browser tests' harness: Debian's Chromium through Playwright, the app
notebook, the development server in this process), one random file, alternating runs:

* **tellakit**: the file chosen with the app's *Add files*: read in 4 MiB slices by the browser,
  sent as binary widget messages, encrypted into the vault by the kernel as they arrive; timed
  from choosing the file to its attachment showing in the form (committed in the vault);
* **JupyterLab**: the same file with the file browser's *Upload*: 1 MiB base64 JSON chunks to
  the contents API, written in clear to the server's disk; timed from the click on *Upload* in
  its "Large file size warning" until the file is whole on disk.

Also reported: the kernel's peak resident memory sampled during the imports (its lifetime
peak, VmHWM, is set earlier by unlocking: scrypt with 256 MiB), and the Jupyter server's
lifetime peak (VmHWM).

Run: ``.venv/bin/python benchmarks/browser_import.py [--size-mib 300] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tellakit.devserver import DevServer  # noqa: E402
from tests.browser.app_steps import (  # noqa: E402
    add_files,
    new_report,
    run_first_code_cell,
    unlock,
)
from tests.browser.lab import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    Lab,
    RssSampler,
    kernel_of,
    start_lab,
)

MiB = 1024 * 1024


def peak_rss_mib(pid: int) -> float:
    """VmHWM of a process: its peak resident memory so far."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def tellakit_import(page: Any, source: Path, done_before: int) -> float:
    start = time.perf_counter()
    add_files(page, source)
    page.wait_for_function(
        f"() => document.querySelectorAll('.tk-attachment').length > {done_before}",
        timeout=1_800_000,
        polling=50,
    )
    return time.perf_counter() - start


def jupyterlab_upload(page: Any, lab: Lab, source: Path) -> float:
    target = lab.root / source.name
    size = source.stat().st_size
    with page.expect_file_chooser() as chooser:
        page.locator(".jp-FileBrowser .jp-ToolbarButtonComponent[title^='Upload']").click()
    chooser.value.set_files(str(source))
    # JupyterLab asks first for files over 15 MB ("Large file size warning"): the clock starts
    # with the click on Upload, not with the question.
    page.locator(".jp-Dialog button.jp-mod-accept").click()
    start = time.perf_counter()
    while not (target.exists() and target.stat().st_size == size):
        time.sleep(0.02)
    seconds = time.perf_counter() - start
    page.wait_for_timeout(1000)  # let the last chunk's answer land before the file goes
    lab.api("DELETE", f"/api/contents/{source.name}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    size = args.size_mib * MiB
    with tempfile.TemporaryDirectory(prefix="tellakit-bench-") as tmp:
        scratch = Path(tmp)
        source = scratch / "source" / "video.mp4"
        source.parent.mkdir()
        with source.open("wb") as out:
            for _ in range(args.size_mib):
                out.write(os.urandom(MiB))
        password = secrets.token_urlsafe(12)
        server = DevServer(scratch / "ncdata", users={"bench": password}).start()
        env = {
            "TELLAKIT_DEVSERVER_URL": server.url,
            "TELLAKIT_DEVSERVER_USER": "bench",
            "TELLAKIT_DEVSERVER_PASSWORD": password,
            "TELLAKIT_LAB_HOME": str(scratch / "lab-home"),
        }
        lab = start_lab(scratch / "lab", env, [REPO / "notebooks" / "01-field-reports.ipynb"])
        ours: list[float] = []
        theirs: list[float] = []
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                page.set_default_timeout(60_000)
                page.goto(lab.notebook_url("01-field-reports.ipynb"))
                run_first_code_cell(page)
                unlock(page)
                new_report(page, "Benchmark")
                kernel_rss = RssSampler(kernel_of(lab))
                for i in range(args.repeat):
                    with kernel_rss:
                        ours.append(tellakit_import(page, source, i))
                    theirs.append(jupyterlab_upload(page, lab, source))
                    print(f"run {i + 1}: tellakit {ours[-1]:.1f} s, JupyterLab {theirs[-1]:.1f} s")
                kernel_peak = kernel_rss.peak / MiB
                server_peak = peak_rss_mib(lab.process.pid)
                browser.close()
        finally:
            lab.stop()
            server.stop()

    def rate(seconds: float) -> float:
        return size / seconds / 1e6

    ours_s, theirs_s = statistics.median(ours), statistics.median(theirs)
    rows = [
        ("tellakit Add files (encrypted into the vault)", f"{rate(ours_s):6.1f} MB/s"),
        ("JupyterLab upload (clear text on disk)", f"{rate(theirs_s):6.1f} MB/s"),
        ("ratio tellakit / JupyterLab (speed)", f"{theirs_s / ours_s:6.2f}"),
        ("kernel peak RSS during the imports", f"{kernel_peak:6.0f} MiB"),
        ("Jupyter server peak RSS (VmHWM)", f"{server_peak:6.0f} MiB"),
    ]
    print(f"\n{args.size_mib} MiB, {args.repeat} alternating runs, median:")
    for label, value in rows:
        print(f"{label:48} {value}")


if __name__ == "__main__":
    main()
