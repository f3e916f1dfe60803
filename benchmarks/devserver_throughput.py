"""PUT and GET throughput of the development server for a 1 GiB file, next to peers.

Measures, on this machine, over loopback:
  * python client (requests, streaming) -> tellakit devserver
  * curl                               -> tellakit devserver
  * curl                               -> Apache httpd mod_dav (a tmp config on a loopback port)
and prints MiB/s plus ratios, and the devserver's peak memory (VmHWM) to show that a 1 GiB
PUT/GET runs in constant memory. Run: .venv/bin/python benchmarks/devserver_throughput.py
Options: --size-mib N (default 1024), --repeat N (best of N, default 2).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from devserver_process import devserver_process

MIB = 1024 * 1024
APACHE_MODULES = "/usr/lib/apache2/modules"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_file(path: Path, size: int) -> None:
    block = os.urandom(16 * MIB)
    with path.open("wb") as out:
        written = 0
        while written < size:
            n = min(len(block), size - written)
            out.write(block[:n])
            written += n


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def python_put(url: str, path: Path, auth) -> None:
    with path.open("rb") as f:
        r = requests.put(
            url,
            data=f,
            auth=auth,
            timeout=600,
            headers={"Content-Length": str(path.stat().st_size)},
        )
    r.raise_for_status()


def python_get(url: str, auth) -> None:
    with requests.get(url, auth=auth, stream=True, timeout=600) as r:
        r.raise_for_status()
        for _ in r.iter_content(MIB):
            pass


def curl(*args: str) -> None:
    subprocess.run(["curl", "-sS", "-f", "-o", "/dev/null", *args], check=True)


def start_devserver(data: Path) -> tuple[subprocess.Popen[str], str]:
    proc = devserver_process(data, "--quiet")
    assert proc.stderr is not None
    line = proc.stderr.readline()
    match = re.search(r"listening on (http://\S+)", line)
    if not match:
        proc.kill()
        raise SystemExit(f"devserver did not start: {line}")
    return proc, match.group(1)


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_apache(root: Path) -> tuple[list[str], str] | None:
    exe = shutil.which("apache2") or "/usr/sbin/apache2"
    if not Path(exe).exists():
        return None
    port = free_port()
    docs = root / "dav"
    docs.mkdir(parents=True)
    run_as = ""
    if os.geteuid() == 0:  # Debian's Apache refuses to serve as root
        run_as = "User www-data\nGroup www-data\n"
        root.parent.chmod(0o711)  # www-data must traverse the temporary folder
        shutil.chown(root, "www-data", "www-data")
        shutil.chown(docs, "www-data", "www-data")
    conf = root / "httpd.conf"
    conf.write_text(f"""
ServerRoot {root}
Listen 127.0.0.1:{port}
PidFile {root}/httpd.pid
ErrorLog {root}/error.log
{run_as}LoadModule mpm_event_module {APACHE_MODULES}/mod_mpm_event.so
LoadModule authz_core_module {APACHE_MODULES}/mod_authz_core.so
LoadModule dav_module {APACHE_MODULES}/mod_dav.so
LoadModule dav_fs_module {APACHE_MODULES}/mod_dav_fs.so
DavLockDB {root}/davlock
ServerName localhost
DocumentRoot {docs}
LimitRequestBody 0
<Directory />
    AllowOverride None
</Directory>
<Directory {docs}>
    Dav On
    Require all granted
</Directory>
""")
    cmd = [exe, "-f", str(conf), "-k"]
    subprocess.run([*cmd, "start"], check=True, env={**os.environ, "APACHE_RUN_DIR": str(root)})
    url = f"http://127.0.0.1:{port}"
    for _ in range(50):
        try:
            requests.request("OPTIONS", url + "/", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    return cmd, url


def best(n: int, fn) -> float:
    return min(timed(fn) for _ in range(n))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    size = args.size_mib * MIB
    auth = ("alice", "secret")
    with tempfile.TemporaryDirectory(prefix="tk-bench-") as tmp:
        tmpdir = Path(tmp)
        src = tmpdir / "payload.bin"
        make_file(src, size)
        results: dict[str, tuple[float, float]] = {}

        proc, url = start_devserver(tmpdir / "devdata")
        try:
            target = f"{url}/remote.php/dav/files/alice/payload.bin"
            results["python -> devserver"] = (
                best(args.repeat, lambda: python_put(target, src, auth)),
                best(args.repeat, lambda: python_get(target, auth)),
            )
            results["curl -> devserver"] = (
                best(args.repeat, lambda: curl("-u", "alice:secret", "-T", str(src), target)),
                best(args.repeat, lambda: curl("-u", "alice:secret", target)),
            )
            stored = tmpdir / "devdata" / "alice" / "files" / "payload.bin"
            assert stored.stat().st_size == size
            rss = peak_rss_mib(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)

        apache = start_apache(tmpdir / "apache")
        if apache is not None:
            cmd, aurl = apache
            try:
                atarget = f"{aurl}/payload.bin"
                results["curl -> apache mod_dav"] = (
                    best(args.repeat, lambda: curl("-T", str(src), atarget)),
                    best(args.repeat, lambda: curl(atarget)),
                )
            finally:
                subprocess.run([*cmd, "stop"], check=False)
                time.sleep(1)

    mib = size / MIB
    print(f"file: {mib:.0f} MiB, best of {args.repeat}, loopback, {os.cpu_count()} CPUs")
    print(f"{'client -> server':28} {'PUT MiB/s':>10} {'GET MiB/s':>10}")
    for name, (put, get) in results.items():
        print(f"{name:28} {mib / put:10.0f} {mib / get:10.0f}")
    dev = results["curl -> devserver"]
    py = results["python -> devserver"]
    print(f"python/curl on devserver:     PUT {dev[0] / py[0]:.2f}  GET {dev[1] / py[1]:.2f}")
    if "curl -> apache mod_dav" in results:
        ap_ = results["curl -> apache mod_dav"]
        print(f"devserver/apache with curl:   PUT {ap_[0] / dev[0]:.2f}  GET {ap_[1] / dev[1]:.2f}")
    print(f"devserver peak RSS (VmHWM) after the {mib:.0f} MiB PUTs and GETs: {rss:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
