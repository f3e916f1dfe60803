"""Upload a 1 GiB attachment from the vault to the dev server, next to curl and rclone.

Each client runs as its own process against the same development server (also its own
process), in the same run, so wall time, client CPU seconds and client peak RSS (from wait4's
rusage) compare like with like:

  * tellakit: Submitter, vault -> decrypting stream -> chunked upload v2 -> verify -> manifest
  * curl -T:  the same plaintext from disk, one PUT
  * curl+X-Hash: the same PUT asking the server for its SHA-256 of what it stored
    (``X-Hash: sha256``, as tellakit's final MOVE does): like for like on the server side
  * curl+sha256: that plus ``sha256sum`` of the file first (tellakit's whole end-to-end check)
  * rclone copy (webdav, vendor nextcloud): the same plaintext, its 10 MiB chunked upload

The HTTP request count of each comes from the server's access log; for comparison, Tella iOS
sends 1 MiB chunks (about 1,030 requests for 1 GiB).

Run: .venv/bin/python benchmarks/upload_throughput.py [--size-mib 1024] [--repeat 1]
Results for this machine are recorded in benchmarks/engine.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from devserver_process import devserver_process

MIB = 1024 * 1024
REPO = Path(__file__).resolve().parents[1]
PASSPHRASE = "benchmark passphrase"


@dataclass
class Run:
    name: str
    wall: float
    cpu: float
    rss_mib: float
    requests: int
    inner: float | None = None  # the client's own timing of the transfer, when it reports one


class AccessLog:
    """Counts the dev server's access-log lines (one per request) read from its stderr."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._stream = stream
        self.url = ""
        self._ready = threading.Event()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self._stream:
            match = re.search(r"listening on (http://\S+)", line)
            if match:
                self.url = match.group(1)
                self._ready.set()
            elif '"' in line:
                self.lines.append(line)

    def wait_ready(self, timeout: float = 30) -> str:
        if not self._ready.wait(timeout):
            raise SystemExit("the dev server did not start")
        return self.url


def make_file(path: Path, size: int) -> None:
    block = os.urandom(16 * MIB)
    with path.open("wb") as out:
        left = size
        while left:
            n = min(len(block), left)
            out.write(block[:n])
            left -= n


def _vm_hwm_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return None
    return None


def measure(name: str, argv: list[str], log: AccessLog, env: dict[str, str] | None = None) -> Run:
    """Run ``argv`` as a child; wall time, its CPU seconds and peak RSS, and server requests.

    Peak RSS is the child's VmHWM, sampled until it exits (wait4's ru_maxrss would report the
    pre-exec peak of the forked Python parent instead).
    """
    before = len(log.lines)
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, env=env)
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            hwm = _vm_hwm_mib(proc.pid)
            if hwm is not None:
                peak[0] = max(peak[0], hwm)
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    sampler.join()
    wall = time.perf_counter() - start
    out = proc.stdout.read().decode() if proc.stdout else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed with {proc.returncode}: {out[-500:]}")
    time.sleep(0.5)  # let the last access-log lines arrive
    inner = None
    if out.strip().startswith("{"):
        inner = json.loads(out.strip().splitlines()[-1]).get("seconds")
    return Run(
        name,
        wall,
        usage.ru_utime + usage.ru_stime,
        peak[0],
        len(log.lines) - before,
        inner,
    )


def tellakit_client(vault_path: str, report_id: str) -> int:
    """The tellakit side, run in its own process: submit one report and wait."""
    from tellakit.engine import Submitter
    from tellakit.reports import Status
    from tellakit.vault import open_vault

    vault = open_vault(vault_path, PASSPHRASE)
    start = time.perf_counter()
    with Submitter(vault) as sub:
        sub.submit(report_id)
        sub.wait(report_id)
    seconds = time.perf_counter() - start
    report = vault.get_report(report_id)
    vault.close()
    print(json.dumps({"seconds": seconds, "status": report.status.value}))
    return 0 if report.status is Status.SUBMITTED else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--client", nargs=2, metavar=("VAULT", "REPORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        return tellakit_client(*args.client)

    sys.path.insert(0, str(REPO))
    from tellakit.engine import connect
    from tellakit.vault import create_vault

    work = Path(tempfile.mkdtemp(prefix="tellakit-bench-"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    server = devserver_process(work / "server", env=env)
    try:
        assert server.stderr is not None
        log = AccessLog(server.stderr)
        url = log.wait_ready()
        size = args.size_mib * MIB
        plain = work / "evidence.bin"
        make_file(plain, size)
        vault = create_vault(work / "vault", PASSPHRASE, work_factor=12)
        connect(vault, url, "alice", "secret", "Tella")
        started = time.perf_counter()
        vfile = vault.import_path(plain)
        import_s = time.perf_counter() - started
        reports = [vault.create_report(f"bench {i}", "", [vfile.id]).id for i in range(args.repeat)]
        vault.close()
        dav = f"{url}/remote.php/dav/files/alice"
        obscured = subprocess.run(
            ["rclone", "obscure", "secret"], capture_output=True, text=True, check=True
        ).stdout.strip()
        runs: list[Run] = []
        for i in range(args.repeat):
            runs.append(
                measure(
                    "tellakit",
                    [sys.executable, __file__, "--client", str(work / "vault"), reports[i]],
                    log,
                    env,
                )
            )
            subprocess.run(
                ["curl", "-sS", "-f", "-u", "alice:secret", "-X", "MKCOL", f"{dav}/curl{i}"],
                check=True,
            )
            runs.append(
                measure(
                    "curl -T",
                    [
                        "curl",
                        "-sS",
                        "-f",
                        "-o",
                        "/dev/null",
                        "-u",
                        "alice:secret",
                        "-T",
                        str(plain),
                        f"{dav}/curl{i}/evidence.bin",
                    ],
                    log,
                )
            )
            # What a careful curl user adds to match tellakit's end-to-end check: hash the
            # file locally, and ask the server for its SHA-256 of what it stored.
            digest = measure("sha256sum", ["sha256sum", str(plain)], log)
            subprocess.run(
                ["curl", "-sS", "-f", "-u", "alice:secret", "-X", "MKCOL", f"{dav}/curlx{i}"],
                check=True,
            )
            put = measure(
                "curl+X-Hash",
                [
                    "curl",
                    "-sS",
                    "-f",
                    "-o",
                    "/dev/null",
                    "-u",
                    "alice:secret",
                    "-H",
                    "X-Hash: sha256",
                    "-T",
                    str(plain),
                    f"{dav}/curlx{i}/evidence.bin",
                ],
                log,
            )
            runs.append(put)  # the same PUT with X-Hash: the server's share of the check
            runs.append(
                Run(
                    "curl+sha256",
                    digest.wall + put.wall,
                    digest.cpu + put.cpu,
                    max(digest.rss_mib, put.rss_mib),
                    put.requests,
                )
            )
            if shutil.which("rclone"):
                runs.append(
                    measure(
                        "rclone copy",
                        [
                            "rclone",
                            "copy",
                            "--config",
                            "/dev/null",
                            str(plain),
                            f":webdav:rclone{i}",
                            "--webdav-url",
                            dav,
                            "--webdav-vendor",
                            "nextcloud",
                            "--webdav-user",
                            "alice",
                            "--webdav-pass",
                            obscured,
                            "--transfers",
                            "1",
                        ],
                        log,
                    )
                )
        print(
            f"file: {args.size_mib} MiB; vault import {import_s:.1f} s "
            f"({args.size_mib / import_s:.0f} MiB/s)"
        )
        best: dict[str, Run] = {}
        for r in runs:
            if r.name not in best or r.wall < best[r.name].wall:
                best[r.name] = r
        curl = best["curl -T"]
        gib = size / (1024 * MIB)
        print(
            f"{'client':<12} {'wall s':>7} {'MiB/s':>7} {'vs curl':>8} {'CPU s/GiB':>10} "
            f"{'peak RSS MiB':>13} {'requests':>9}"
        )
        for r in best.values():
            print(
                f"{r.name:<12} {r.wall:7.2f} {args.size_mib / r.wall:7.0f} "
                f"{r.wall / curl.wall:8.2f} {r.cpu / gib:10.2f} {r.rss_mib:13.0f} "
                f"{r.requests:9d}"
            )
        t = best["tellakit"]
        if t.inner is not None:
            print(
                f"tellakit submission alone (without interpreter start): {t.inner:.2f} s, "
                f"{t.inner / curl.wall:.2f} x curl"
            )
        print(
            f"Tella iOS with 1 MiB chunks would send about {args.size_mib + 3} requests "
            "(MKCOL + one PUT per MiB + MOVE + description)."
        )
        return 0
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
