"""Vault memory and throughput: import and read back a 1 GiB file, next to the stock age CLI.

Run:  .venv/bin/python benchmarks/vault_memory.py [--size-mib 1024] [--repeat 3]

The vault work runs in a child process so its peak RSS (VmHWM) is its own. Unlocking the vault
runs scrypt at work factor 18 (256 MiB by design, once per unlock); the peak is reset after the
unlock (/proc/self/clear_refs) so the import + read-back peak is measured on its own, and both
numbers are printed. Throughput is compared with `age` encrypting and decrypting the same file
to the same recipient, as ratios (tellakit / age; above 1 means tellakit is faster).
Everything is written to a temporary folder that is deleted at the end. Not run by pytest.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, os, sys, time
from pathlib import Path
from tellakit.vault import open_vault

def hwm_kib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

def say(**kw):
    print(json.dumps(kw), flush=True)

root, src, passphrase = sys.argv[1], sys.argv[2], sys.argv[3]
t = time.perf_counter()
vault = open_vault(root, passphrase)
unlock_s = time.perf_counter() - t
unlock_hwm = hwm_kib()
reset = False
try:
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    reset = True
except OSError:
    pass
say(unlock_s=unlock_s, unlock_hwm_kib=unlock_hwm, peak_reset=reset, base_hwm_kib=hwm_kib())
f = None
buf = bytearray(1024 * 1024)
for command in sys.stdin:  # the parent interleaves these with runs of stock age
    command = command.strip()
    if command == "import":
        if f is not None:
            vault.delete_file(f.id)
        t = time.perf_counter()
        f = vault.import_path(src)
        say(import_s=time.perf_counter() - t, size=f.size)
    elif command == "read":
        # The read verifies the SHA-256 recorded at import itself (VaultCorrupted on a
        # mismatch) and authenticates every chunk; the bytes land in one reused buffer, as
        # the upload's body does.
        t = time.perf_counter()
        with vault.open_file(f.id) as reader:
            while reader.readinto(buf):
                pass
        say(read_s=time.perf_counter() - t)
    elif command == "seek":
        t = time.perf_counter()
        with vault.open_file(f.id) as reader:
            for offset in range(0, f.size, f.size // 97 or 1):
                reader.seek(offset)
                reader.read(4096)
        say(seek_reads_s=time.perf_counter() - t, work_hwm_kib=hwm_kib())
vault.close()
"""

CREATE_CHILD = r"""
import sys
from tellakit.vault import create_vault
vault = create_vault(sys.argv[1], sys.argv[2])  # default work factor (18)
vault.export_identity(sys.argv[3])
print(vault.recipient)
vault.close()
"""

LIST_CHILD = r"""
import json, sys, time
from tellakit.vault import create_vault
vault = create_vault(sys.argv[1], "bench", work_factor=10)
f = vault.import_bytes(b"x", "x.txt")
with vault._index.transaction():
    for i in range(10000):
        vault.create_report(f"Report {i}", "description", [f.id])
t = time.perf_counter()
reports = vault.list_reports()
elapsed = time.perf_counter() - t
vault.close()
print(json.dumps({"reports": len(reports), "list_s": elapsed}))
"""


def _run_timed(cmd: list[str], **kw: object) -> tuple[float, int]:
    """Run ``cmd``; return (seconds, peak RSS KiB of that child)."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, **kw)  # type: ignore[call-overload]
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{cmd[0]} failed with {proc.returncode}")
    return elapsed, usage.ru_maxrss


def _warm(path: Path) -> None:
    """Read ``path`` once so that the timed run after it finds it in the page cache."""
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(16 * 1024 * 1024)
        while f.readinto(buf):
            pass


def _fmt(values: list[float]) -> str:
    return "/".join(f"{v:.2f}" for v in values)


def _cpu() -> str:
    """The CPU model, core count and whether it has SHA extensions (benchmarks say so)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    model = next(
        (ln.split(":", 1)[1].strip() for ln in info.splitlines() if "model name" in ln), "?"
    )
    sha = "sha_ni" in info.split()
    return f"{model}, {os.cpu_count()} cores, SHA extensions {'yes' if sha else 'no'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs of each")
    args = parser.parse_args()
    age = shutil.which("age")
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    with tempfile.TemporaryDirectory(prefix="tellakit-bench-") as tmp:
        work = Path(tmp)
        src = work / "big.bin"
        with open(src, "wb") as f:
            for _ in range(args.size_mib):
                f.write(os.urandom(1024 * 1024))
        size = src.stat().st_size
        passphrase = "benchmark passphrase"
        identity = work / "identity.txt"
        # in a child, so this process stays small and age's peak RSS below is age's own
        recipient = subprocess.run(
            [sys.executable, "-c", CREATE_CHILD, str(work / "vault"), passphrase, str(identity)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(work / "vault"), str(src), passphrase],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdin is not None and child.stdout is not None

        def ask(command: str) -> dict:
            child.stdin.write(command + "\n")  # type: ignore[union-attr]
            child.stdin.flush()  # type: ignore[union-attr]
            return json.loads(child.stdout.readline())  # type: ignore[union-attr]

        r = json.loads(child.stdout.readline())
        enc = work / "big.age"
        runs: dict[str, list[float]] = {"import": [], "read": [], "age_enc": [], "age_dec": []}
        rss: dict[str, int] = {}
        # Interleaved, so that load from other jobs on the machine falls on both sides alike;
        # the best of --repeat runs of each is reported.
        for _ in range(args.repeat):
            _warm(src)  # both sides read the source from the page cache, not the disk
            runs["import"].append(ask("import")["import_s"])
            if age:
                enc.unlink(missing_ok=True)
                _warm(src)
                elapsed, rss["enc"] = _run_timed([age, "-r", recipient, "-o", str(enc), str(src)])
                runs["age_enc"].append(elapsed)
            runs["read"].append(ask("read")["read_s"])
            if age:
                with open(os.devnull, "wb") as sink:
                    elapsed, rss["dec"] = _run_timed(
                        [age, "-d", "-i", str(identity), str(enc)], stdout=sink
                    )
                runs["age_dec"].append(elapsed)
        r.update(ask("seek"))
        child.stdin.close()
        child.wait()
        mib = size / 2**20
        print(f"file: {mib:.0f} MiB (random bytes), best of {args.repeat} interleaved runs")
        print(f"CPU: {_cpu()}")
        print(
            f"unlock (scrypt 2^18): {r['unlock_s']:.2f} s, "
            f"peak RSS {r['unlock_hwm_kib'] / 1024:.1f} MiB"
        )
        label = "import + read back" if r["peak_reset"] else "whole child (peak not resettable)"
        print(
            f"peak RSS during {label}: {r['work_hwm_kib'] / 1024:.1f} MiB "
            f"(RSS before import {r['base_hwm_kib'] / 1024:.1f} MiB; limit 100 MiB)"
        )
        t_imp, t_read = min(runs["import"]), min(runs["read"])
        print(
            f"tellakit import: {mib / t_imp:.0f} MiB/s ({t_imp:.2f} s; runs {_fmt(runs['import'])})"
        )
        print(
            f"tellakit read:   {mib / t_read:.0f} MiB/s ({t_read:.2f} s, SHA-256 verified; "
            f"runs {_fmt(runs['read'])})"
        )
        print(f"tellakit 98 seeks + 4 KiB reads: {r['seek_reads_s'] * 1000:.0f} ms")
        if age:
            t_age_enc, t_age_dec = min(runs["age_enc"]), min(runs["age_dec"])
            print(
                f"age encrypt:     {mib / t_age_enc:.0f} MiB/s ({t_age_enc:.2f} s, "
                f"peak RSS {rss['enc'] / 1024:.1f} MiB; runs {_fmt(runs['age_enc'])})"
            )
            print(
                f"age decrypt:     {mib / t_age_dec:.0f} MiB/s ({t_age_dec:.2f} s, "
                f"peak RSS {rss['dec'] / 1024:.1f} MiB; runs {_fmt(runs['age_dec'])})"
            )
            print(f"ratio import/age encrypt: {t_age_enc / t_imp:.2f}x the speed of age")
            print(f"ratio read/age decrypt:   {t_age_dec / t_read:.2f}x the speed of age")
        else:
            print("stock age not installed: no comparison")
        out = subprocess.run(
            [sys.executable, "-c", LIST_CHILD, str(work / "listvault")],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        lr = json.loads(out.stdout)
        print(
            f"list_reports of {lr['reports']} reports (1 attachment each): "
            f"{lr['list_s'] * 1000:.0f} ms"
        )
        ok = r["work_hwm_kib"] < 100 * 1024
        print("PASS: peak RSS under 100 MiB" if ok else "FAIL: peak RSS above 100 MiB")
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
