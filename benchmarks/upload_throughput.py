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
  * nc_py_api: Nextcloud's Python client, ``nc.files.upload_stream`` of the same plaintext with
    5 MiB chunks (its default) and with 100 MiB chunks (the server's advertised max_size)

The HTTP request count of each comes from the server's access log, the server's own CPU
seconds from /proc/<pid>/stat around each run; for comparison, Tella iOS sends 1 MiB chunks
(about 1,030 requests for 1 GiB).

nc_py_api runs from its own venv, ``.venv-bench`` (created on first use with the packages of
pyproject's ``bench`` extra): it installs urllib3-future over urllib3, which must not happen
in the development venv. ``--profile-server FILE`` records the server with py-spy (collapsed
stacks) while tellakit uploads.

Run: .venv/bin/python benchmarks/upload_throughput.py [--size-mib 1024] [--repeat 1]
Results for this machine are recorded in benchmarks/engine.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from importlib.metadata import requires
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
    server_cpu: float | None = None  # the dev server's CPU seconds during the run


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


NC_PY_API_CLIENT = r"""
import json, sys, time
from nc_py_api import Nextcloud
url, folder, path, chunk = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
nc = Nextcloud(nextcloud_url=url, nc_auth_user="alice", nc_auth_pass="secret")
start = time.perf_counter()
nc.files.mkdir(folder)
with open(path, "rb") as f:
    nc.files.upload_stream(folder + "/evidence.bin", f, chunk_size=chunk)
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def nc_py_api_python() -> str | None:
    """The python of .venv-bench, created with pyproject's ``bench`` extra if missing."""
    venv = REPO / ".venv-bench"
    python = venv / "bin" / "python"
    if not python.exists():
        # pyproject's bench extra, as installed with tellakit (make reinstalls on changes)
        extra = [r.split(";")[0].strip() for r in requires("tellakit") or [] if "bench" in r]
        print(f"creating {venv} for nc_py_api ({', '.join(extra)}) ...", flush=True)
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", *extra], check=True)
        except subprocess.CalledProcessError:
            print("could not install nc_py_api: its rows are left out", flush=True)
            return None
    return str(python)


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


def measure(
    name: str,
    argv: list[str],
    log: AccessLog,
    env: dict[str, str] | None = None,
    server: int | None = None,
) -> Run:
    """Run ``argv`` as a child; wall time, its CPU seconds and peak RSS, and server requests
    (and the CPU seconds of the ``server`` process meanwhile, when its pid is given).

    Peak RSS is the child's VmHWM, sampled until it exits (wait4's ru_maxrss would report the
    pre-exec peak of the forked Python parent instead).
    """
    before = len(log.lines)
    server_before = process_cpu(server) if server else 0.0
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
    server_cpu = process_cpu(server) - server_before if server else None
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
        server_cpu,
    )


def cpu_model() -> str:
    """The CPU model, core count and whether it has SHA extensions."""
    info = Path("/proc/cpuinfo").read_text()
    names = [ln.split(":", 1)[1].strip() for ln in info.splitlines() if "model name" in ln]
    sha = "with" if "sha_ni" in info.split() else "without"
    return f"{names[0] if names else '?'}, {os.cpu_count()} cores, {sha} SHA extensions"


def py_spy() -> str:
    """The py-spy executable (PATH, .venv or .venv-bench), or exit saying how to get it."""
    for candidate in (shutil.which("py-spy"), REPO / ".venv/bin/py-spy"):
        if candidate and Path(candidate).exists():
            return str(candidate)
    bench = REPO / ".venv-bench" / "bin" / "py-spy"
    if bench.exists():
        return str(bench)
    raise SystemExit("--profile-server needs py-spy: .venv/bin/pip install py-spy")


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
    parser.add_argument("--profile-server", metavar="FILE", help="py-spy the server (tellakit)")
    parser.add_argument("--no-nc-py-api", action="store_true", help="leave nc_py_api out")
    parser.add_argument("--client", nargs=2, metavar=("VAULT", "REPORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        return tellakit_client(*args.client)
    if args.profile_server:
        py_spy()  # before anything is set up

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
        ncpy = None if args.no_nc_py_api else nc_py_api_python()
        pid = server.pid
        runs: list[Run] = []
        for i in range(args.repeat):
            spy = None
            if args.profile_server and i == 0:
                spy = subprocess.Popen(
                    [
                        *(py_spy(), "record", "-p", str(pid), "-r", "200"),
                        *("-f", "raw", "-o", args.profile_server, "--nonblocking", "--threads"),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                time.sleep(1)  # attached before the upload starts
            runs.append(
                measure(
                    "tellakit",
                    [sys.executable, __file__, "--client", str(work / "vault"), reports[i]],
                    log,
                    env,
                    pid,
                )
            )
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(60)
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
                    server=pid,
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
                server=pid,
            )
            runs.append(put)  # the same PUT with X-Hash: the server's share of the check
            runs.append(
                Run(
                    "curl+sha256",
                    digest.wall + put.wall,
                    digest.cpu + put.cpu,
                    max(digest.rss_mib, put.rss_mib),
                    put.requests,
                    server_cpu=put.server_cpu,
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
                        server=pid,
                    )
                )
            for label, chunk in (("5M", 5 * MIB), ("100M", 100 * MIB)):
                if ncpy is None:
                    break
                runs.append(
                    measure(
                        f"nc_py_api {label}",
                        [
                            ncpy,
                            "-c",
                            NC_PY_API_CLIENT,
                            url,
                            f"ncpy{label}{i}",
                            str(plain),
                            str(chunk),
                        ],
                        log,
                        server=pid,
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
        xhash = best["curl+X-Hash"]
        print(
            f"{'client':<14} {'wall s':>7} {'MiB/s':>7} {'vs curl':>8} {'vs X-Hash':>9} "
            f"{'CPU s/GiB':>10} {'server CPU':>10} {'peak RSS MiB':>13} {'requests':>9}"
        )
        for r in best.values():
            server_cpu = "-" if r.server_cpu is None else f"{r.server_cpu / gib:.2f}"
            print(
                f"{r.name:<14} {r.wall:7.2f} {args.size_mib / r.wall:7.0f} "
                f"{r.wall / curl.wall:8.2f} {r.wall / xhash.wall:9.2f} {r.cpu / gib:10.2f} "
                f"{server_cpu:>10} {r.rss_mib:13.0f} {r.requests:9d}"
            )
        print(
            f"CPU: {cpu_model()}; server CPU in s/GiB of the dev server process; "
            f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
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
