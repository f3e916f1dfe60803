"""A 300 MiB attachment through links that keep dropping: tellakit next to fixed-chunk uploaders.

Each link is a TCP proxy (``tellakit.devserver.FlakyLink``) in front of the development server
(its own process) that resets every connection after a random number of bytes (seeded):

  * every 4-12 MB (~8 MB between drops) and every 20-60 MB (~40 MB) (``--links``: others),
  * and, for the request count, a link that does not drop (``--clean-mib``, 1 GiB).

Uploaders, each its own process, all with the engine's automatic retry (the CLI's default
policy: 1 s after an attempt that made progress, growing waits without progress, giving up
after 8 attempts in a row without progress):

  * tellakit, first upload on the connection (nothing learned about the link yet),
  * tellakit again on the same vault (a new process that starts from what the first learned),
  * a fixed 1 MiB-chunk uploader (Tella iOS's choice: chunking v1, one chunk at a time),
  * a fixed 10 MiB-chunk uploader (chunking v2, one chunk at a time).

The fixed uploaders are the engine with the chunk size pinned (``Tuning(follow_link=False)``),
so they resume exactly as tellakit does; only the chunk policy differs. Reported per run:
completed or not (within ``--limit`` seconds), wall time, link bytes / payload bytes (both
directions, as the proxy passed them), HTTP requests (the server's access log), drops.

Run: .venv/bin/python benchmarks/field_link.py [--size-mib 300] [--limit 900]
Results for this machine are recorded in benchmarks/field_link.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from upload_throughput import AccessLog, cpu_model, logged_server, make_file

if TYPE_CHECKING:
    from tellakit.devserver import FlakyLink

MIB = 1024 * 1024
REPO = Path(__file__).resolve().parents[1]
PASSPHRASE = "benchmark passphrase"
#: Set for the uploader processes by ``--log``.
LOG_ENV = "FIELD_LINK_LOG"
#: The issue's two links; ``--links 1-3,4-12`` picks others (MB between drops, low-high).
LINKS = "4-12,20-60"
#: Uploader -> Tuning fields (None: tellakit's defaults).
UPLOADERS: dict[str, dict[str, object] | None] = {
    "tellakit, first upload": None,
    "tellakit, learned": None,
    "fixed 1 MiB (Tella iOS)": {"size": 1 * MIB},
    "fixed 10 MiB": {"size": 10 * MIB},
}


@dataclass
class Result:
    link: str
    uploader: str
    completed: bool
    wall: float
    link_bytes: int
    payload: int
    requests: int
    drops: int
    load: float  # the 1-minute load average as the run began (other agents share the CPU)
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.link_bytes / self.payload if self.payload else 0.0


def client(vault_path: str, report_id: str, fixed: int, limit: float) -> int:
    """One uploader, in its own process: submit one report and wait until it settles."""
    from dataclasses import replace

    from tellakit.engine import Submitter, Tuning
    from tellakit.engine.scheduler import RetryPolicy
    from tellakit.reports import Status
    from tellakit.vault import open_vault

    tuning = Tuning()
    if fixed:
        pinned = {"initial_chunk": fixed, "min_chunk": fixed, "max_chunk": fixed}
        tuning = replace(tuning, follow_link=False, max_in_flight=1, **pinned)  # type: ignore[arg-type]
    if os.environ.get(LOG_ENV):  # --log: each drop, the distance and the window that follows
        logging.basicConfig(level=logging.INFO, format="    %(relativeCreated)6.0f ms %(message)s")
    vault = open_vault(vault_path, PASSPHRASE)
    start = time.perf_counter()
    with Submitter(vault, tuning=tuning, retry=RetryPolicy(auto=True)) as sub:
        sub.submit(report_id)
        sub.wait(report_id, timeout=limit, until="settled")
    seconds = time.perf_counter() - start
    report = vault.get_report(report_id)
    vault.close()
    print(json.dumps({"seconds": seconds, "status": report.status.value, "reason": report.reason}))
    return 0 if report.status is Status.SUBMITTED else 1


def run_one(
    argv: list[str],
    link: FlakyLink,
    log: AccessLog,
    limit: float,
    env: dict[str, str],
) -> tuple[bool, float, int, int, int, str]:
    """Run an uploader; (completed, wall, link bytes, requests, drops, note)."""
    before_bytes = link.total
    before_drops = link.drops
    before_requests = len(log.lines)
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
    try:
        out, _ = proc.communicate(timeout=limit + 30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    wall = time.perf_counter() - start
    time.sleep(0.5)  # the last access-log lines
    answer = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    completed = answer.get("status") == "submitted"
    if completed:
        note = ""
    elif answer and answer.get("seconds", 0) >= limit:
        note = f"still retrying at the {limit:.0f} s limit"
    elif answer:
        note = answer.get("reason") or answer.get("status", "")
    else:
        note = f"no answer within the limit (exit code {proc.returncode})"
    return (
        completed,
        answer.get("seconds", wall),
        link.total - before_bytes,
        len(log.lines) - before_requests,
        link.drops - before_drops,
        note,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=300)
    parser.add_argument("--clean-mib", type=int, default=1024, help="0: no clean-link run")
    parser.add_argument("--limit", type=float, default=900, help="seconds per upload")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--links", default=LINKS, help="MB between drops: LOW-HIGH,...")
    parser.add_argument("--only", help="run only uploaders whose name contains this")
    parser.add_argument("--log", action="store_true", help="the uploaders' engine log (drops)")
    parser.add_argument(
        "--client", nargs=4, metavar=("VAULT", "REPORT", "FIXED", "LIMIT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.client:
        vault_path, report_id, fixed, limit = args.client
        return client(vault_path, report_id, int(fixed), float(limit))

    sys.path.insert(0, str(REPO))
    from tellakit.devserver import FlakyLink
    from tellakit.engine import connect
    from tellakit.vault import create_vault, open_vault

    work = Path(tempfile.mkdtemp(prefix="tellakit-field-"))
    env = {**os.environ, "PYTHONPATH": str(REPO), **({LOG_ENV: "1"} if args.log else {})}
    server, log = logged_server(work, env)
    results: list[Result] = []
    try:
        url = log.wait_ready()
        size = args.size_mib * MIB
        plain = work / "evidence.bin"
        make_file(plain, size)
        started = time.strftime("%Y-%m-%d %H:%M")
        load = os.getloadavg()
        runs: list[tuple[str, tuple[int, int] | None, int]] = []
        for spec in args.links.split(","):
            low, high = (int(float(x) * 1_000_000) for x in spec.split("-"))
            runs.append((f"{spec} MB", (low, high), args.size_mib))
        if args.clean_mib:
            runs.append(("no drops", None, args.clean_mib))
        for label, every, mib in runs:
            plain_run = plain
            if mib != args.size_mib:
                plain_run = work / f"evidence-{mib}.bin"
                make_file(plain_run, mib * MIB)
            link = FlakyLink(url, drop_every=None, seed=args.seed).start()
            first: tuple[Path, str] | None = None  # tellakit's first vault and its file
            try:
                for uploader, fixed in UPLOADERS.items():
                    if args.only and args.only not in uploader:
                        continue
                    if every is None and uploader != "tellakit, first upload":
                        continue  # the clean link only counts tellakit's requests
                    if uploader == "tellakit, learned" and first is not None:
                        vault_path, file_id = first  # same vault, same link: what it learned
                        vault = open_vault(vault_path, PASSPHRASE)
                    else:
                        vault_path = work / f"vault-{len(results)}"
                        vault = create_vault(vault_path, PASSPHRASE, work_factor=12)
                        folder = f"field-{len(results)}"
                        connect(vault, link.url, "alice", "secret", folder)
                        file_id = vault.import_path(plain_run).id
                        if uploader == "tellakit, first upload":
                            first = (vault_path, file_id)
                    report = vault.create_report(f"{label} {uploader}", "", [file_id])
                    vault.close()
                    link.set_drops(every)
                    load_now = os.getloadavg()[0]
                    print(f"{label}: {uploader} (load {load_now:.2f}) ...", flush=True)
                    completed, wall, link_bytes, requests, drops, note = run_one(
                        [
                            sys.executable,
                            __file__,
                            "--client",
                            str(vault_path),
                            report.id,
                            str((fixed or {}).get("size", 0)),
                            str(args.limit),
                        ],
                        link,
                        log,
                        args.limit,
                        env,
                    )
                    link.set_drops(None)
                    payload = mib * MIB
                    results.append(
                        Result(
                            label,
                            uploader,
                            completed,
                            wall,
                            link_bytes,
                            payload,
                            requests,
                            drops,
                            load_now,
                            note,
                        )
                    )
                    r = results[-1]
                    print(
                        f"  completed={r.completed} wall={r.wall:.1f}s link/payload={r.ratio:.3f} "
                        f"requests={r.requests} drops={r.drops} {r.note}",
                        flush=True,
                    )
                    # What the server received of this run, and its vault unless needed again.
                    shutil.rmtree(work / "server" / "alice" / "files" / folder, ignore_errors=True)
                    if first is None or vault_path != first[0]:
                        shutil.rmtree(vault_path, ignore_errors=True)
            finally:
                link.stop()
                if first is not None:
                    shutil.rmtree(first[0], ignore_errors=True)
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(work, ignore_errors=True)  # GBs of vaults and server data
    _print(results, args, started, load)
    return 0


def _print(results: list[Result], args: argparse.Namespace, started: str, load: tuple) -> None:
    print()
    print(f"{started}; {cpu_model()}; load average at start {load[0]:.1f} {load[1]:.1f}")
    print(f"payload {args.size_mib} MiB (no-drop link: {args.clean_mib} MiB); seed {args.seed}")
    print("| link | uploader | completed | wall s | link / payload | requests | drops | load |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for r in results:
        done = "yes" if r.completed else f"no ({_why(r.note)})"
        per_gib = (
            f" ({r.requests * 1024 * MIB / r.payload:.0f}/GiB)" if r.link == "no drops" else ""
        )
        print(
            f"| {r.link} | {r.uploader} | {done} | {r.wall:.1f} | {r.ratio:.3f} | "
            f"{r.requests}{per_gib} | {r.drops} | {r.load:.2f} |"
        )


def _why(note: str) -> str:
    """A failed run's reason, short: the retry's verdict in brackets when there is one."""
    start, end = note.rfind("["), note.rfind("]")
    if 0 <= start < end:
        return note[start + 1 : end]
    return note[:80]


if __name__ == "__main__":
    sys.exit(main())
