"""Download verification of a 1 GiB file next to its upload, and next to curl + sha256sum.

When the server offers no digest of its own (no ``X-Hash`` answer, no ``PATCH
X-Recalculate-Hash``), tellakit can verify a file only by downloading it and hashing it:
``NextcloudClient.download_sha256``. This measures what that costs, each client in its own
process against the same development server (also its own process), in the same run:

  * tellakit put:      ``NextcloudClient.put`` of the file (one streamed PUT, X-Hash asked)
  * tellakit verify:   ``NextcloudClient.download_sha256`` of the stored file
  * curl -T:           the same PUT with curl
  * curl | sha256sum:  the same download piped into sha256sum (the peer of "verify")

It prints wall time, client CPU seconds, client peak RSS (VmHWM), and the ratios that matter:
verify / upload (the extra time a download verification adds) and tellakit / curl.

Run: .venv/bin/python benchmarks/download_verify.py [--size-mib 1024] [--repeat 2]
Results for this machine are recorded in benchmarks/verification.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from devserver_process import devserver_process
from upload_throughput import AccessLog, Run, make_file, measure

MIB = 1024 * 1024
REPO = Path(__file__).resolve().parents[1]


def client(mode: str, url: str, remote: str, local: str) -> int:
    """The tellakit side in its own process: ``put`` the file or ``verify`` (download+hash)."""
    from tellakit.nextcloud import Credentials, NextcloudClient

    with NextcloudClient(Credentials(url, "alice", os.environ["BENCH_PASSWORD"])) as nc:
        nc.current_user()
        start = time.perf_counter()
        if mode == "put":
            size = Path(local).stat().st_size
            with open(local, "rb") as f:
                sha = nc.put(remote, f, size).hashes.get("sha256")
        else:
            sha = nc.download_sha256(remote).sha256
        print(json.dumps({"seconds": time.perf_counter() - start, "sha256": sha}))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--client", nargs=4, metavar=("MODE", "URL", "REMOTE", "LOCAL"))
    args = parser.parse_args()
    if args.client:
        return client(*args.client)

    work = Path(tempfile.mkdtemp(prefix="tellakit-bench-verify-"))
    env = {**os.environ, "PYTHONPATH": str(REPO), "BENCH_PASSWORD": "secret"}
    server = devserver_process(work / "server", env=env)
    try:
        assert server.stderr is not None
        log = AccessLog(server.stderr)
        url = log.wait_ready()
        size = args.size_mib * MIB
        plain = work / "evidence.bin"
        make_file(plain, size)
        dav = f"{url}/remote.php/dav/files/alice"
        me = [sys.executable, __file__, "--client"]
        runs: list[Run] = []
        for i in range(args.repeat):
            remote = f"t{i}.bin"
            runs.append(measure("tellakit put", [*me, "put", url, remote, str(plain)], log, env))
            runs.append(measure("tellakit verify", [*me, "verify", url, remote, "-"], log, env))
            curl = ["curl", "-sS", "-f", "-u", "alice:secret"]
            upload = [*curl, "-o", "/dev/null", "-T", str(plain), f"{dav}/c{i}.bin"]
            runs.append(measure("curl -T", upload, log))
            pipe = f"{' '.join(curl)} {dav}/c{i}.bin | sha256sum"
            runs.append(measure("curl | sha256sum", ["sh", "-c", pipe], log))
        best = {r.name: r for r in sorted(runs, key=lambda r: -r.wall)}  # fastest of each
        gib = size / (1024 * MIB)
        print(f"file: {args.size_mib} MiB, best of {args.repeat}, loopback")
        print(f"{'client':<17} {'wall s':>7} {'MiB/s':>7} {'CPU s/GiB':>10} {'peak RSS MiB':>13}")
        for r in best.values():
            print(
                f"{r.name:<17} {r.wall:7.2f} {args.size_mib / r.wall:7.0f} "
                f"{r.cpu / gib:10.2f} {r.rss_mib:13.0f}"
            )
        put, verify = best["tellakit put"], best["tellakit verify"]
        peer_get, peer_put = best["curl | sha256sum"], best["curl -T"]
        print(f"tellakit verify / tellakit put:      {verify.wall / put.wall:.2f}")
        print(f"tellakit verify / curl | sha256sum:  {verify.wall / peer_get.wall:.2f}")
        print(f"tellakit put / curl -T:              {put.wall / peer_put.wall:.2f}")
        return 0
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
