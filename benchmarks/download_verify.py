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

``--engine`` measures the same at the engine's level: a report holding the file, encrypted in a
vault, submitted by the ``Submitter`` (vault read, chunked upload, verification, manifest) to
a ``nextcloud`` server (the final MOVE answers its SHA-256) and to a ``nextcloud-old`` one (no
digest: the engine downloads the file back and hashes it), each in its own process; the
client reports how long the upload and the verification took within the submission.

Run: .venv/bin/python benchmarks/download_verify.py [--size-mib 1024] [--repeat 2] [--engine]
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


def engine_client(url: str, vault_path: str, out: str) -> int:
    """Submit the vault's one file as a report to ``url``; write the upload and verification
    seconds within the submission (from the engine's events) to ``out`` as JSON."""
    from tellakit.engine import FileEvent, Submitter, connect
    from tellakit.reports import FileState, Status
    from tellakit.vault import open_vault

    marks: dict[str, float] = {}

    def on_event(event: object) -> None:
        if isinstance(event, FileEvent):
            now = time.perf_counter()
            if event.file_state is FileState.UPLOADED:
                marks.setdefault("uploaded", now)
            if event.verify_bytes is not None:
                marks.setdefault("verifying", now)
            if event.file_state is FileState.VERIFIED:
                marks.setdefault("verified", now)

    with open_vault(vault_path, "benchmark passphrase") as vault:
        if vault.get_connection() is not None:
            vault.delete_connection()
        connect(vault, url, "alice", os.environ["BENCH_PASSWORD"], "Bench")
        (file,) = vault.list_files()
        report = vault.create_report("evidence", "", [file.id])
        with Submitter(vault) as submitter:
            submitter.subscribe(on_event)
            start = time.perf_counter()
            submitter.submit(report.id)
            assert submitter.wait(report.id, timeout=3600)
            seconds = time.perf_counter() - start
        done = vault.get_report(report.id)
        assert done.status is Status.SUBMITTED, done.reason
        level = done.attachments[0].verification
    upload = marks["uploaded"] - start
    verify = marks.get("verified", marks["uploaded"]) - marks["uploaded"]
    detail = {"seconds": seconds, "upload": upload, "verify": verify, "level": str(level)}
    Path(out).write_text(json.dumps(detail))
    return 0


def engine(args: argparse.Namespace, work: Path, env: dict[str, str], plain: Path) -> None:
    """The engine rows: the same report to a server with a digest and to one without."""
    from tellakit.vault import create_vault

    with create_vault(work / "vault", "benchmark passphrase", work_factor=10) as vault:
        vault.import_path(plain)
    rows = []
    for profile in ("nextcloud", "nextcloud-old"):
        server = devserver_process(work / profile, "--profile", profile, env=env)
        try:
            assert server.stderr is not None
            log = AccessLog(server.stderr)
            url = log.wait_ready()
            out = work / "detail.json"
            argv = [sys.executable, __file__, "--engine-client", url, str(work / "vault"), str(out)]
            best = None
            for _ in range(args.repeat):
                run = measure(f"submit to {profile}", argv, log, env, server=server.pid)
                detail = json.loads(out.read_text())
                if best is None or run.wall < best[0].wall:
                    best = (run, detail)
            assert best is not None
            rows.append(best)
        finally:
            server.terminate()
            server.wait(10)
    gib = args.size_mib / 1024
    print(f"engine: a report of one {args.size_mib} MiB file, best of {args.repeat}, loopback")
    print(
        f"{'submission':<28} {'wall s':>7} {'upload s':>9} {'verify s':>9} {'level':>14} "
        f"{'CPU s/GiB':>10} {'peak RSS MiB':>13}"
    )
    for run, detail in rows:
        print(
            f"{run.name:<28} {run.wall:7.2f} {detail['upload']:9.2f} {detail['verify']:9.2f} "
            f"{detail['level']:>14} {run.cpu / gib:10.2f} {run.rss_mib:13.0f}"
        )
    (digest, _), (download, o) = rows
    print(f"verification by download / upload (nextcloud-old):  {o['verify'] / o['upload']:.2f}")
    print(f"whole submission, nextcloud-old / nextcloud:        {download.wall / digest.wall:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--client", nargs=4, metavar=("MODE", "URL", "REMOTE", "LOCAL"))
    parser.add_argument("--engine", action="store_true", help="the engine rows, not the client's")
    parser.add_argument("--engine-client", nargs=3, metavar=("URL", "VAULT", "OUT"))
    args = parser.parse_args()
    if args.client:
        return client(*args.client)
    if args.engine_client:
        return engine_client(*args.engine_client)

    work = Path(tempfile.mkdtemp(prefix="tellakit-bench-verify-"))
    env = {**os.environ, "PYTHONPATH": str(REPO), "BENCH_PASSWORD": "secret"}
    if args.engine:
        try:
            plain = work / "evidence.bin"
            make_file(plain, args.size_mib * MIB)
            engine(args, work, env, plain)
            return 0
        finally:
            shutil.rmtree(work, ignore_errors=True)
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
