"""Helpers shared by the engine tests."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def report_with_files(vault: Any, title: str, files: list[tuple[str, bytes]], description=""):
    """A draft report with the given (name, content) attachments."""
    ids = [vault.import_bytes(data, name).id for name, data in files]
    return vault.create_report(title, description, ids)


def random_bytes(n: int, seed: int = 0) -> bytes:
    import random

    return random.Random(seed).randbytes(n) if n else b""


def server_tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` (relative posix path -> bytes), folders as trailing '/'."""
    out: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root).as_posix()
        for d in dirnames:
            out[(f"{rel}/{d}" if rel != "." else d) + "/"] = b""
        for f in filenames:
            out[f"{rel}/{f}" if rel != "." else f] = (Path(dirpath) / f).read_bytes()
    return out
