"""How long the pandas views take on a vault with 10,000 reports (30,000 attachments).

Timed separately: ``vault.list_reports()`` (SQLCipher index -> Report objects),
``vault.report_rows()`` (one aggregate query -> plain tuples, what ``summary.reports``
reads), the pure frame builders ``summary.reports_frame`` / ``summary.files_frame``, and the whole
``summary.reports(vault)`` call, the promise being under a second. As a peer, pandas'
own ``read_sql_query`` builds the same per-report table (with an aggregate over the
attachments) from a plain, unencrypted sqlite3 database holding the same rows: the price of
encryption and typed objects shows as a ratio.
Run: ``.venv/bin/python benchmarks/summary_speed.py``.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def best_of(fn: Callable[[], Any], runs: int = 5) -> tuple[float, float]:
    """(best, median) seconds of ``runs`` calls."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def plain_sqlite(path: Path, reports: list[Any]) -> sqlite3.Connection:
    """The same reports and attachments in an ordinary sqlite3 file (the peer's input)."""
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE reports (id TEXT PRIMARY KEY, title TEXT, status TEXT, reason TEXT,"
        " created TEXT, updated TEXT, submitted_at TEXT, remote_path TEXT, attempts INT);"
        "CREATE TABLE files (report TEXT, name TEXT, size INT, bytes_sent INT);"
        "CREATE INDEX files_report ON files(report);"
    )
    db.executemany(
        "INSERT INTO reports VALUES (?,?,?,?,?,?,?,?,?)",
        [
            (
                r.id,
                r.title,
                r.status.value,
                r.reason,
                r.created_at.isoformat(),
                r.updated_at.isoformat(),
                None,
                r.remote_folder,
                r.attempts,
            )
            for r in reports
        ],
    )
    db.executemany(
        "INSERT INTO files VALUES (?,?,?,?)",
        [(r.id, a.name, a.size, a.bytes_sent) for r in reports for a in r.attachments],
    )
    db.commit()
    return db


PEER_QUERY = """
SELECT r.*, COUNT(f.name) AS files, SUM(f.size) AS bytes, SUM(f.bytes_sent) AS bytes_sent
FROM reports r LEFT JOIN files f ON f.report = r.id GROUP BY r.id ORDER BY r.created DESC
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=10_000)
    args = parser.parse_args()

    import pandas as pd

    from tellakit import summary
    from tellakit.vault import create_vault

    with tempfile.TemporaryDirectory() as tmp:
        vault = create_vault(Path(tmp) / "vault", "benchmark", work_factor=10)
        files = [vault.import_bytes(b"x" * (100 * i + 1), f"photo{i}.jpg").id for i in range(3)]
        t0 = time.perf_counter()
        for i in range(args.reports):
            vault.create_report(f"Report {i}", "", files)
        print(
            f"created {args.reports} reports in {time.perf_counter() - t0:.1f} s (not timed below)"
        )

        listed = vault.list_reports()
        t_list = best_of(vault.list_reports)
        t_rows = best_of(vault.report_rows)
        t_rep = best_of(lambda: summary.reports_frame(listed))
        t_files = best_of(lambda: summary.files_frame(listed))
        t_whole = best_of(lambda: summary.reports(vault))
        db = plain_sqlite(Path(tmp) / "plain.sqlite", listed)

        def peer() -> pd.DataFrame:
            frame = pd.read_sql_query(PEER_QUERY, db)
            for col in ("created", "updated", "submitted_at"):
                frame[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601")
            return frame

        t_peer = best_of(peer)
        vault.close()

    n = args.reports
    rows = [
        ("vault.list_reports()", t_list),
        ("vault.report_rows() (what summary.reports reads)", t_rows),
        ("summary.reports_frame(list)", t_rep),
        ("summary.files_frame(list)", t_files),
        ("summary.reports(vault) (the promise: < 1 s)", t_whole),
        ("peer: pandas.read_sql_query, plain sqlite3", t_peer),
    ]
    print(f"| step ({n} reports, {3 * n} files) | best s | median s | vs peer (median) |")
    print("|---|---|---|---|")
    for name, (best, median) in rows:
        print(f"| {name} | {best:.3f} | {median:.3f} | {median / t_peer[1]:.1f}x |")
    return 0 if t_whole[1] < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
