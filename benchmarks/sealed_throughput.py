"""Sealed uploads: the cost of encrypting to the organization on the upload's hot path.

Two measurements of one file (1 GiB by default) in a vault, in the same run:

1. **Reader throughput**, in this process: read the whole file sequentially through the
   vault's decrypting ``BlobReader`` (plain) and through ``SealedReader`` over it (sealed:
   decrypt, encrypt to a fresh key, SHA-256 of the ciphertext), in 1 MiB reads as the request
   body does, plus the peer tool: stock ``age -r`` encrypting the same plaintext from disk to
   /dev/null. Also the Python heap's peak during a sealed read (constant memory).
2. **Submission**, each client its own process (the server too: ``tellakit devserver``): a
   report holding the file goes through the real engine, ``tellakit.Submitter`` with its
   production sizes (chunked upload from 10 MiB chunks, adaptive), from ``submit`` to
   ``submitted``: folder, description, the file, its verification against the server's
   ``X-Hash`` (plain: the vault's recorded SHA-256; sealed: the ciphertext's, computed on the
   way), the manifest. The connection is the same, without (plain) or with ``encrypt_to``
   (sealed). Runs alternate plain/sealed; the best of ``--repeat`` each is reported, with
   client and server CPU seconds and the client's peak RSS. Twice: on loopback as fast as the
   two processes go (CPU-bound: the worst case for sealing), then through a link capped at
   ``--link-mib-s`` (the server's bandwidth fault; 0 skips it), as a fast real uplink is.

Run: .venv/bin/python benchmarks/sealed_throughput.py [--size-mib 1024] [--repeat 3]
     [--link-mib-s 64] [--link-repeat 3]
Results for this machine are recorded in benchmarks/sealed.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from devserver_process import devserver_process
from upload_throughput import AccessLog, make_file, measure

MIB = 1024 * 1024
PASSPHRASE = "benchmark passphrase"
USER = "bench"
SERVER_PASSWORD = "bench-password"
ROOT = "Bench"


def _open_at(vault, file_id: str, offset: int):
    reader = vault.open_file(file_id, check_sha256=False)
    reader.seek(offset)
    return reader


def child_submit(mode: str, url: str, vault_path: str, file_id: str, recipient: str) -> int:
    """One submission of a report holding the vault file through the Submitter, plain or
    sealed; prints {"seconds": ...} (submit to submitted) as JSON."""
    from tellakit import sealed
    from tellakit.engine import Submitter
    from tellakit.reports import FileState, Status
    from tellakit.vault import open_vault

    vault = open_vault(vault_path, PASSPHRASE)
    sealed.set_encrypt_to(vault, [recipient] if mode == "sealed" else [])
    report = vault.create_report(f"{mode} {time.time_ns()}", "benchmark run", [file_id])
    with Submitter(vault) as submitter:
        start = time.perf_counter()
        submitter.submit(report.id)
        submitter.wait(report.id)
        seconds = time.perf_counter() - start
    done = vault.get_report(report.id)
    (att,) = done.attachments
    if done.status is not Status.SUBMITTED or att.state is not FileState.VERIFIED:
        raise SystemExit(f"{mode}: not submitted: {done.reason}")
    if done.sealed != (mode == "sealed") or not att.checksum:
        raise SystemExit(f"{mode}: the layout or the server's SHA-256 check is not as asked")
    vault.close()
    print(json.dumps({"seconds": seconds}))
    return 0


def read_all(reader) -> float:
    buf = bytearray(MIB)
    start = time.perf_counter()
    while reader.readinto(buf):
        pass
    return time.perf_counter() - start


def compare(work: Path, child: list[str], size_mib: int, repeat: int, link: int | None) -> None:
    """Plain and sealed submissions of the file, alternating, through a fresh server (its
    bandwidth capped at ``link`` MiB/s when given); prints the table."""
    from tellakit.engine import connect
    from tellakit.vault import open_vault

    data = work / "server"
    shutil.rmtree(data, ignore_errors=True)
    options = ["--user", f"{USER}:{SERVER_PASSWORD}"]
    if link:
        options.append(f"--fault=*::bandwidth:{link * MIB}")
    server = devserver_process(data, *options)
    log = AccessLog(server.stderr)
    url = log.wait_ready()
    try:
        with open_vault(child[0], PASSPHRASE) as vault:
            vault.delete_connection()
            connect(vault, url, USER, SERVER_PASSWORD, ROOT)
        runs: dict[str, list] = {"plain": [], "sealed": []}
        for i in range(repeat):
            order = ("plain", "sealed") if i % 2 == 0 else ("sealed", "plain")
            for mode in order:
                argv = [sys.executable, __file__, "--child", mode, url, *child]
                runs[mode].append(measure(mode, argv, log, server=server.pid))
                for old in list(data.rglob(ROOT)):
                    shutil.rmtree(old)  # keep the disk use to one report
    finally:
        server.terminate()
        server.wait(timeout=30)
    best = {mode: min(r, key=lambda run: run.inner) for mode, r in runs.items()}
    where = f"a link capped at {link} MiB/s" if link else "loopback, uncapped"
    print(f"\nsubmission of {size_mib} MiB (Submitter), {where}, best of {repeat}")
    print(
        "  mode      submit s  MiB/s  client CPU s  server CPU s  peak RSS MiB  requests"
        "   (every run, s)"
    )
    for mode, run in best.items():
        every = " ".join(f"{r.inner:.2f}" for r in runs[mode])
        print(
            f"  {mode:<8} {run.inner:8.2f} {size_mib / run.inner:6.0f} {run.cpu:13.2f}"
            f" {run.server_cpu or 0:13.2f} {run.rss_mib:13.0f} {run.requests:9d}   ({every})"
        )
    ratio = best["sealed"].inner / best["plain"].inner
    medians = {m: sorted(r.inner for r in runs[m])[len(runs[m]) // 2] for m in runs}
    median = medians["sealed"] / medians["plain"]
    print(f"  sealed/plain, best: {ratio:.3f}   median: {median:.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--link-mib-s", type=int, default=64)
    parser.add_argument("--link-repeat", type=int, default=3)
    parser.add_argument("--child", nargs=5, metavar="ARG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child_submit(*args.child)

    from tellakit import sealed
    from tellakit.vault import age, create_vault

    size = args.size_mib * MIB
    work = Path(tempfile.mkdtemp(prefix="tellakit-sealed-bench-"))
    try:
        plain_file = work / "video.bin"
        make_file(plain_file, size)
        vault = create_vault(work / "vault", PASSPHRASE, work_factor=10)
        t = time.perf_counter()
        vfile = vault.import_path(plain_file)
        print(f"vault import of {args.size_mib} MiB: {time.perf_counter() - t:.1f} s")
        org = age.X25519Identity.generate()
        recipient = str(org.recipient())

        # 1. reader throughput, and the peer tool
        rows = []
        for _ in range(args.repeat):
            plain = read_all(vault.open_file(vfile.id, check_sha256=False))
            key = sealed.new_sealed_file([org.recipient()])
            reader = sealed.SealedReader(lambda off: _open_at(vault, vfile.id, off), key, size)
            sealed_s = read_all(reader)
            assert reader.sha256_hex() is not None
            reader = sealed.SealedReader(lambda off: _open_at(vault, vfile.id, off), key, size)
            tracemalloc.start()  # a separate, untimed pass: tracing slows Python down
            read_all(reader)
            _, heap_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            age_s = None
            if shutil.which("age"):
                t = time.perf_counter()
                subprocess.run(
                    ["age", "-r", recipient, "-o", "/dev/null", str(plain_file)], check=True
                )
                age_s = time.perf_counter() - t
            rows.append((plain, sealed_s, age_s, heap_peak))
        plain = min(r[0] for r in rows)
        sealed_s = min(r[1] for r in rows)
        ages = [r[2] for r in rows if r[2] is not None]
        heap = max(r[3] for r in rows)
        print(f"\nreader, {args.size_mib} MiB in 1 MiB reads, best of {args.repeat}")
        print(f"  vault BlobReader (decrypt)              {size / MIB / plain:7.0f} MiB/s")
        print(f"  SealedReader (decrypt+encrypt+SHA-256)  {size / MIB / sealed_s:7.0f} MiB/s")
        if ages:
            print(f"  stock age -r (encrypt from disk)        {size / MIB / min(ages):7.0f} MiB/s")
            print(f"  SealedReader time / stock age time: {sealed_s / min(ages):.2f}")
        print(f"  Python heap peak during a sealed read: {heap / MIB:.1f} MiB")

        # 2. submissions through the engine, each client its own process
        vault.close()
        child = [str(work / "vault"), vfile.id, recipient]
        compare(work, child, args.size_mib, args.repeat, link=None)
        if args.link_mib_s:
            compare(work, child, args.size_mib, args.link_repeat, link=args.link_mib_s)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
