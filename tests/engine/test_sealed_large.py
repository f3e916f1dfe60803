"""A 200 MiB sealed report through the real engine at production sizes: stock ``age -d`` opens
every file that lands, and no marker from the report's title, description, file names or
file contents appears anywhere under the development server's data folder."""

from __future__ import annotations

import mmap
import os
import secrets
from pathlib import Path

import pytest
from engine_helpers import PASSPHRASE
from sealed_helpers import check_sealed_report, needs_stock_age, organization

from tellakit.engine import Submitter, connect
from tellakit.vault import create_vault

MiB = 1024 * 1024


def _write_marked(path: Path, size: int, marker: bytes) -> None:
    """``size`` random bytes with ``marker`` at the start of every MiB."""
    with path.open("wb") as fh:
        left = size
        while left:
            block = (marker + os.urandom(MiB - len(marker)))[: min(left, MiB)]
            fh.write(block)
            left -= len(block)


def _found(root: Path, markers: list[bytes]) -> list[str]:
    """Where under ``root`` any marker appears: in a path, or in a file's bytes."""
    hits = []
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root)).encode()
        hits += [f"{marker!r} in the path {rel!r}" for marker in markers if marker in rel]
        if not path.is_file() or path.is_symlink() or path.stat().st_size == 0:
            continue
        with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            hits += [f"{marker!r} in {rel!r}" for marker in markers if data.find(marker) >= 0]
    return hits


@pytest.mark.slow
@pytest.mark.timeout(600)
@needs_stock_age
def test_200_mib_sealed_report_leaves_no_marker_on_the_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    pytest.importorskip("wsgidav", reason="tellakit[devserver] extra not installed")
    from tellakit.devserver import DevServer

    token = secrets.token_hex(6)
    title, desc, name, content = (f"{kind}-{token}" for kind in ("TITLE", "DESC", "NAME", "DATA"))
    markers = [m.encode() for m in (title, desc, name, content)]
    work = tmp_path_factory.mktemp("sealed-large")
    data_folder = work / "server-data"
    server = DevServer(data_folder, users={"alice": "secret"}).start()
    org = organization(work)
    vault = create_vault(work / "vault", PASSPHRASE, work_factor=10)
    try:
        connect(vault, server.url, "alice", "secret", "Tella", encrypt_to=[org.recipient])
        source = work / f"{name}.mp4"
        _write_marked(source, 200 * MiB + 12345, content.encode())
        big = vault.import_path(source, remove_original=True)
        small = [
            vault.import_bytes(f"notes {content}".encode(), f"{name} notes.txt"),
            vault.import_bytes(b"", f"{name}.empty"),
        ]
        report = vault.create_report(
            f"{title}: interview",
            f"{desc}, recorded at the market.",
            [big.id, *(f.id for f in small)],
        )
        with Submitter(vault) as sub:  # production sizes: 10 MiB start, adaptive chunks
            sub.submit(report.id)
            assert sub.wait(report.id, timeout=560)
        done = vault.get_report(report.id)
        check_sealed_report(vault, Path(server.files_root("alice")), done, org)
    finally:
        vault.close()
        server.stop()
    assert _found(data_folder, markers) == []
    # The scan can see them: the vault's own index and blobs hold none either (encrypted),
    # but a plaintext copy of the content does.
    (work / "plain").write_bytes(b"x" + content.encode())
    assert _found(work, [content.encode()]) == [f"{content.encode()!r} in b'plain'"]
