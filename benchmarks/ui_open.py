"""How fast the app shows the Drafts tab of a vault holding 1,000 reports.

Builds a vault (real scrypt work factor 18, as a person's vault has) with 1,000 drafts of two
attachments each, then times, median of ``--repeat`` runs:

* unlock: ``open_vault`` with the passphrase (scrypt; the same for every tool on this vault),
* floor: ``vault.list_reports(Status.DRAFT)`` alone, what any front end must at least do,
* app: from an unlocked vault to the reports view on the Drafts tab (one page of 25 rows built),
* unpaged: the same view with every one of the 1,000 rows built, what paging saves.

The widgets are built in this process without a browser: this is the kernel's share of the
work; the browser then draws one page of rows.

Run: ``.venv/bin/python benchmarks/ui_open.py [--reports N] [--repeat N]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tellakit.reports import Status
from tellakit.ui import App, ServerPrefill
from tellakit.ui.report_list import ReportsView
from tellakit.vault import create_vault, open_vault

PASSPHRASE = "benchmark passphrase of four words"


def build_vault(path: Path, reports: int) -> None:
    vault = create_vault(path, PASSPHRASE)  # default work factor: a real vault
    photo = vault.import_bytes(b"\x89PNG" + b"p" * 200_000, "photo.png")
    audio = vault.import_bytes(b"RIFF" + b"a" * 500_000, "voice.wav")
    for i in range(reports):
        vault.create_report(f"Report {i:04d}", f"Description of report {i}", [photo.id, audio.id])
    vault.close()


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vault"
        start = time.perf_counter()
        build_vault(path, args.reports)
        print(f"built a vault with {args.reports} drafts in {time.perf_counter() - start:.1f} s")

        unlock = median_seconds(lambda: open_vault(path, PASSPHRASE).close(), args.repeat)
        vault = open_vault(path, PASSPHRASE)
        app = App(path, ServerPrefill(), auto_connect=False)
        app.vault = vault  # what the unlock screen does after open_vault, minus the engine

        floor = median_seconds(lambda: vault.list_reports(Status.DRAFT), args.repeat)

        def show_drafts(page_size: int) -> ReportsView:
            view = ReportsView(app, page_size=page_size)
            app.show(view)
            return view

        paged = median_seconds(lambda: show_drafts(25), args.repeat)
        view = show_drafts(25)
        assert len(view.current.rows) == 25 and len(view.current.reports) == args.reports
        unpaged = median_seconds(lambda: show_drafts(args.reports), max(1, args.repeat // 2))
        vault.close()

    print(f"unlock (scrypt N=2^18)              {unlock * 1000:8.0f} ms")
    print(f"list_reports(DRAFT) alone           {floor * 1000:8.0f} ms")
    print(f"app: Drafts tab, 25 rows            {paged * 1000:8.0f} ms")
    print(f"app: Drafts tab, all {args.reports} rows       {unpaged * 1000:8.0f} ms")
    print(f"app / list_reports                  {paged / floor:8.2f}")
    print(f"unpaged / paged                     {unpaged / paged:8.1f}")
    print(f"unlock + Drafts tab                 {(unlock + paged) * 1000:8.0f} ms")


if __name__ == "__main__":
    main()
