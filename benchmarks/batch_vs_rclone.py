"""The 300-report batch through tellakit next to `rclone copy` of the same tree, same server.

Both upload to one development server (in this process) in the same run:

* tellakit: a manifest of N reports (3 small files each, a 6 MiB video every 100th report)
  imported into a vault (encrypted), then ``batch.submit_many`` with ``--parallel`` reports at
  a time: folder per report, description.txt, the files (decrypted while sent), manifest.json,
  and a size/checksum check of every file.
* rclone (Debian's 1.60.1, webdav vendor nextcloud): ``rclone copy`` of an equivalent plaintext
  tree (per report: a folder with description.txt and the same files) with ``--transfers`` set
  to the same parallelism.

tellakit runs twice, each time into its own vault and root folder: with the engine's
defaults (the server offers bulk upload, so each report's description and photos go in one
bulk request, each then verified by the server's recalculated SHA-256) and with bulk upload
off (one PUT per file, each verified by the SHA-256 its answer carries).

Reported: wall time of each upload (import into the vault is timed separately; rclone reads
plaintext from disk and has nothing to import), their ratio, and HTTP requests per report as
the server's request log counts them. ``--faults P`` answers 503 to a share P of the requests
for every tool. Run: ``.venv/bin/python benchmarks/batch_vs_rclone.py [--reports 300]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MiB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build_media(root: Path, reports: int) -> Path:
    """Media tree + manifest (the same shape as the test in tests/test_batch.py)."""
    rows = ["title,description,files"]
    for i in range(reports):
        site = root / f"site-{i:03d}"
        site.mkdir(parents=True)
        for j in range(3):
            (site / f"photo{j}.jpg").write_bytes(os.urandom(1000 + 700 * j + i))
        if i % 100 == 0:
            (site / "video.mp4").write_bytes(os.urandom(6 * MiB + i))
        rows.append(f'Report {i},"Site {i}, seen at dawn",site-{i:03d}/*')
    manifest = root / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return manifest


def build_rclone_tree(media: Path, dest: Path, reports: int) -> None:
    """Per report a folder with description.txt and the same files, as tellakit lays it out."""
    for i in range(reports):
        folder = dest / f"Report {i}"
        folder.mkdir(parents=True)
        (folder / "description.txt").write_text(f"Site {i}, seen at dawn", encoding="utf-8")
        for f in (media / f"site-{i:03d}").iterdir():
            shutil.copyfile(f, folder / f.name)


def rclone_env(url: str, user: str, password: str, conf: Path) -> dict[str, str]:
    obscured = subprocess.run(
        ["rclone", "obscure", password], capture_output=True, text=True, check=True
    ).stdout.strip()
    return {
        **os.environ,
        "RCLONE_CONFIG": str(conf),
        "RCLONE_CONFIG_NC_TYPE": "webdav",
        "RCLONE_CONFIG_NC_URL": f"{url}/remote.php/dav/files/{user}",
        "RCLONE_CONFIG_NC_VENDOR": "nextcloud",
        "RCLONE_CONFIG_NC_USER": user,
        "RCLONE_CONFIG_NC_PASS": obscured,
    }


def tree_files(root: Path) -> int:
    return sum(1 for p in root.rglob("*") if p.is_file())


def run_tellakit(
    server: Any, work: Path, manifest: Path, tuning: Any, args: argparse.Namespace
) -> tuple[float, float, int, int]:
    """Import the batch into a fresh vault and submit it with ``tuning``: (import s, upload s,
    requests, 503 answers)."""
    from tellakit import batch, summary
    from tellakit.batch import batch_policy
    from tellakit.engine import Submitter, connect
    from tellakit.vault import create_vault

    name = f"vault-{len(list(work.glob('vault-*')))}"
    vault = create_vault(work / name, "benchmark passphrase")
    connect(vault, server.url, "alice", "secret", f"Tella-{name}")
    t0 = time.perf_counter()
    result = batch.import_manifest(vault, manifest, outbox=True)
    t_import = time.perf_counter() - t0
    if args.faults:
        server.faults.probability(503, args.faults)
    server.log.clear()
    t0 = time.perf_counter()
    policy = batch_policy(None, max_attempts=None, retry_delay=0.1)  # as submit_many's own
    with Submitter(
        vault, tuning=tuning, max_parallel_reports=args.parallel, retry=policy
    ) as submitter:
        outcome = batch.submit_many(
            vault,
            result.ids,
            submitter=submitter,
            max_parallel=args.parallel,
            progress=False,
            retry_delay=0.1,
        )
    seconds = time.perf_counter() - t0
    requests = len(server.log)
    errors = sum(1 for r in server.log if r.status == 503)
    assert outcome.ok, str(outcome)
    sent = summary.submitted(vault)
    assert len(sent) == args.reports and (sent["bytes_sent"] == sent["bytes"]).all()
    vault.close()
    return t_import, seconds, requests, errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=300)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--faults", type=float, default=0.0, help="share of requests answered 503")
    args = parser.parse_args()
    if shutil.which("rclone") is None:
        print("rclone is not installed (apt-get install rclone)")
        return 2

    from tellakit.devserver import DevServer
    from tellakit.engine import Tuning

    work = Path(tempfile.mkdtemp(prefix="tellakit-bench-"))
    try:
        server = DevServer(work / "server", users={"alice": "secret"}).start()
        media = work / "media"
        manifest = build_media(media, args.reports)
        build_rclone_tree(media, work / "rclone-tree", args.reports)
        payload = sum(f.stat().st_size for f in media.glob("site-*/*"))
        print(f"{args.reports} reports, {tree_files(media) - 1} files, {payload / MiB:.1f} MiB")

        runs = []
        for label, tuning in (
            ("tellakit submit_many, bulk upload", Tuning()),
            ("tellakit submit_many, one PUT per file", Tuning(bulk=None)),
        ):
            runs.append((label, *run_tellakit(server, work, manifest, tuning, args)))
            server.faults.clear()

        env = rclone_env(server.url, "alice", "secret", work / "rclone.conf")
        server.log.clear()
        t0 = time.perf_counter()
        proc = subprocess.run(
            [
                "rclone",
                "copy",
                str(work / "rclone-tree"),
                "nc:rclone-batch",
                "--transfers",
                str(args.parallel),
                "--retries",
                "10",
                "--low-level-retries",
                "20",
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        t_rclone = time.perf_counter() - t0
        req_rclone = len(server.log)
        err_rclone = sum(1 for r in server.log if r.status == 503)
        if proc.returncode != 0:
            print(proc.stderr[-2000:])
            return 1
        copied = tree_files(server.files_root("alice") / "rclone-batch")
        assert copied == tree_files(work / "rclone-tree"), copied
        server.stop()

        n = args.reports
        print(f"import into the vault (encrypt {payload / MiB:.1f} MiB): {runs[0][1]:.1f} s")
        print(
            "| tool | upload s | ratio | requests | per report | 503s seen |\n"
            "|---|---|---|---|---|---|"
        )
        for label, _, seconds, requests, errors in runs:
            print(
                f"| {label} (parallel {args.parallel}) | {seconds:.1f} | "
                f"{seconds / t_rclone:.2f} | {requests} | {requests / n:.1f} | {errors} |"
            )
        print(
            f"| rclone copy (--transfers {args.parallel}) | {t_rclone:.1f} | 1.00 | "
            f"{req_rclone} | {req_rclone / n:.1f} | {err_rclone} |"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
