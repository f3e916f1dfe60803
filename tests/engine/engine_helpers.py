"""Helpers shared by the engine tests."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from tellakit.engine import Tuning
from tellakit.engine.chunking import BulkPolicy

KiB = 1024
MiB = 1024 * KiB
PASSPHRASE = "correct horse battery staple"
#: Files from 1 MiB go chunked, in fixed 5 MiB chunks (the smallest chunked upload v2 allows,
#: which the dev server enforces), so chunked cases stay fast; smaller ones in one PUT each.
SMALL = Tuning(
    single_put_limit=1 * MiB,
    initial_chunk=5 * MiB,
    min_chunk=5 * MiB,
    max_chunk=5 * MiB,
    bulk=None,
)
#: SMALL with one chunk in flight at a time, for tests whose story is "the chunk on its way"
#: (a pause between two chunks); every other test sends chunks side by side.
ONE_BY_ONE = replace(SMALL, max_in_flight=1)
#: SMALL, and files up to 512 KiB in bulk requests where the server offers them (it does by
#: default); those between 512 KiB and 1 MiB still in one PUT each.
BULK = replace(SMALL, bulk=BulkPolicy(file_limit=512 * KiB))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def report_with_files(vault: Any, title: str, files: list[tuple[str, bytes]], description=""):
    """A draft report with the given (name, content) attachments."""
    ids = [vault.import_bytes(data, name).id for name, data in files]
    return vault.create_report(title, description, ids)


def random_bytes(n: int, seed: int = 0) -> bytes:
    import random

    return random.Random(seed).randbytes(n) if n else b""


def server_tree(root: Path, *, contents: bool = True) -> dict[str, bytes]:
    """Every file below ``root`` (relative posix path -> bytes), folders as trailing '/'.

    With ``contents=False`` the files are listed, not read (values are empty).
    """
    out: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root).as_posix()
        for d in dirnames:
            out[(f"{rel}/{d}" if rel != "." else d) + "/"] = b""
        for f in filenames:
            data = (Path(dirpath) / f).read_bytes() if contents else b""
            out[f"{rel}/{f}" if rel != "." else f] = data
    return out


def wait_for(predicate: Any, timeout: float = 30.0, interval: float = 0.02) -> None:
    """Poll ``predicate`` until true; fail the test after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(interval)


def layout_problems(tree: dict[str, bytes], folders: dict[str, list[str]]) -> list[str]:
    """What is wrong with the server tree around the given report folders.

    ``folders`` maps each report folder (e.g. "Tella/Title") to the file names it must hold,
    exactly: no missing file, no extra file (a second copy), no subfolder, and no extra or
    empty folder next to them under the same root.
    """
    problems: list[str] = []
    dirs = {k.rstrip("/") for k in tree if k.endswith("/")}
    files = {k for k in tree if not k.endswith("/")}
    for root in {f.rsplit("/", 1)[0] for f in folders}:
        present = {d for d in dirs if d.rsplit("/", 1)[0] == root and "/" in d}
        if present != set(folders) & {d for d in dirs if d.startswith(root + "/")} or not all(
            f in present for f in folders if f.rsplit("/", 1)[0] == root
        ):
            problems.append(f"missing report folders under {root}: {sorted(present)}")
        extra = present - set(folders)
        if extra:
            problems.append(f"extra folders under {root}: {sorted(extra)}")
    for folder, names in folders.items():
        inside = {f[len(folder) + 1 :] for f in files if f.startswith(folder + "/")}
        if inside != set(names):
            problems.append(f"{folder}: {sorted(inside)} != {sorted(names)}")
        sub = [d for d in dirs if d.startswith(folder + "/")]
        if sub:
            problems.append(f"{folder} has subfolders {sub}")
    return problems


def server_listing(root: Path) -> dict[str, bytes]:
    """Like :func:`server_tree` but without reading contents (values are empty)."""
    return server_tree(root, contents=False)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file on disk, streamed."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_submitted(
    root: Path, done: Any, shas: dict[str, str], submitted: dict[str, list[str]]
) -> None:
    """Check the whole root folder after the report ``done`` was submitted.

    ``done``'s folder is added to ``submitted`` (folder -> names, every report submitted so
    far) with the files of ``shas`` (name -> SHA-256) plus description and manifest; then the
    layout of every folder must be exact and this report's files must have their hashes.
    """
    submitted[done.remote_folder] = [*shas, "description.txt", "manifest.json"]
    problems = layout_problems(server_listing(root), submitted)
    assert not problems, problems
    for name, sha in shas.items():
        assert file_sha256(root / done.remote_folder / name) == sha, name


def submit_and_kill(vault_path: Path, title: str, file_ids: list[str], k: int, mode: str) -> str:
    """Create a report in the vault, submit it in a child process that SIGKILLs itself at the
    ``k``-th request (``mode``: before it, mid-body or after its answer, see kill_child.py);
    the report's id. The child must have died of the signal, showing no passphrase."""
    import signal
    import subprocess
    import sys

    from tellakit.vault import open_vault

    with open_vault(vault_path, PASSPHRASE) as vault:
        report_id = vault.create_report(title, "killed mid-way", file_ids).id
    child_script = Path(__file__).with_name("kill_child.py")
    repo = Path(__file__).resolve().parents[2]
    child = subprocess.run(
        [sys.executable, str(child_script), str(vault_path), PASSPHRASE, report_id, str(k), mode],
        env={**os.environ, "PYTHONPATH": str(repo)},
        capture_output=True,
        timeout=90,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    assert PASSPHRASE.encode() not in child.stdout + child.stderr
    return report_id
