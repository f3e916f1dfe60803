"""Quick delete while uploads run: the app's path (stop the Submitter, then ``vault.destroy()``)
and a destroy from another process; the server's files are never touched."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tellakit.engine import Submitter, Tuning, connect
from tellakit.errors import VaultDestroyed
from tellakit.vault import Vault, create_vault

REPO = Path(__file__).resolve().parents[1]
MiB = 1024 * 1024
CHUNKED = Tuning(
    single_put_limit=1 * MiB, initial_chunk=5 * MiB, min_chunk=5 * MiB, max_chunk=5 * MiB
)


def _until(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def _server_files(server: Any) -> dict[str, int]:
    root = Path(server.files_root("alice"))
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def uploading(devserver: Any, tmp_path: Path) -> Iterator[tuple[Any, Vault, Submitter, str]]:
    """A slow upload of an 8 MiB video, under way."""
    devserver.faults.bandwidth(512 * 1024)
    vault = create_vault(tmp_path / "vault", "pass", work_factor=10)
    connect(vault, devserver.url, "alice", "secret", "Tella")
    f = vault.import_bytes(os.urandom(8 * MiB), "video.mp4")
    report = vault.create_report("Evidence", "seen at noon", [f.id])
    submitter = Submitter(vault, tuning=CHUNKED)
    submitter.submit(report.id)
    _until(lambda: submitter.snapshot(report.id).bytes_sent > 0)
    try:
        yield devserver, vault, submitter, report.id
    finally:
        submitter.close()
        devserver.faults.bandwidth(None)


@pytest.mark.timeout(120)
def test_the_apps_quick_delete_stops_uploads_then_destroys(
    uploading: tuple[Any, Vault, Submitter, str],
) -> None:
    server, vault, submitter, _ = uploading
    submitter.close()
    before = _server_files(server)
    vault.destroy()
    assert not vault.path.exists()
    time.sleep(0.5)
    assert _server_files(server) == before  # nothing on the server is touched
    with pytest.raises(VaultDestroyed):
        vault.list_reports()


DESTROY = "import sys\nfrom tellakit.vault import destroy_vault\ndestroy_vault(sys.argv[1])"


@pytest.mark.timeout(120)
def test_a_destroy_in_another_process_stops_uploads_here(
    uploading: tuple[Any, Vault, Submitter, str],
) -> None:
    server, vault, submitter, report_id = uploading
    subprocess.run(
        [sys.executable, "-c", DESTROY, str(vault.path)],
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
    )
    assert not vault.path.exists()
    _until(lambda: submitter.active() == [])  # the upload read the vault and stopped
    settled = _server_files(server)
    time.sleep(1.0)
    assert _server_files(server) == settled  # no more bytes arrive
    assert vault.destroyed
    with pytest.raises(VaultDestroyed):
        vault.get_report(report_id)
