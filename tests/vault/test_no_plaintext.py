"""Nothing in clear: titles, descriptions, file names, contents and credentials never appear in
any byte under the vault folder or the temp folder while the vault is used."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tellakit.reports import Status
from tellakit.vault import ConnectionSettings, create_vault, open_vault
from tellakit.vault.age import CHUNK

from .conftest import FAST_WORK_FACTOR, PASSPHRASE

MARKERS = {
    "title": "TitleMarker-Qx7vK2",
    "description": "DescriptionMarker-Zp4nW8",
    "filename": "FilenameMarker-Jh3sL5",
    "content": "ContentMarker-Tb9dR1",
    "password": "PasswordMarker-Mc6fY0",
    "mime": "application/x-mimemarker-ru5e",
}


def _scan(root: Path) -> list[tuple[str, str]]:
    hits = []
    needles = {k: v.encode() for k, v in MARKERS.items()}
    needles |= {k + "-utf16": v.encode("utf-16-le") for k, v in MARKERS.items()}
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [(str(path), k) for k, n in needles.items() if n in data]
    return hits


def test_nothing_in_clear_under_the_vault_or_temp_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setenv("SQLITE_TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    source_dir = tmp_path / "outside"  # the user's own copy: not part of the vault
    source_dir.mkdir()
    content = (MARKERS["content"].encode() + b" ") * (3 * CHUNK // 20)
    src = source_dir / f"{MARKERS['filename']}.mp4"
    src.write_bytes(content)

    root = tmp_path / "vault"
    vault = create_vault(root, PASSPHRASE, work_factor=FAST_WORK_FACTOR)
    a = vault.import_path(src, mime=MARKERS["mime"])
    b = vault.import_bytes(content[: CHUNK + 7], f"{MARKERS['filename']}.txt")
    c = vault.import_fileobj(memoryview(content), f"{MARKERS['filename']}-upload.jpg")
    report = vault.create_report(MARKERS["title"], MARKERS["description"], [a.id, b.id])
    report.attach(c)
    report.description = MARKERS["description"] * 50  # spill over a database page
    vault.save_report(report)
    for i in range(50):
        vault.create_report(f"{MARKERS['title']} {i}", MARKERS["description"])
    vault.set_status(report.id, Status.QUEUED)
    vault.set_connection(
        ConnectionSettings(
            "https://cloud.example.org", "ana", "ana", MARKERS["password"], True, "Tella"
        )
    )
    with vault.open_file(a.id) as reader:
        reader.seek(CHUNK + 3)
        assert MARKERS["content"].encode() in reader.read(1000)
    assert _scan(root) == []  # while open (WAL and shared memory files included)
    assert _scan(temp) == []
    vault.close()
    with open_vault(root, PASSPHRASE) as again:
        assert again.get_report(report.id).title == MARKERS["title"]
        assert again.list_reports(Status.DRAFT)
    assert _scan(root) == []
    assert _scan(temp) == []
    # the scanner itself finds a marker where there is one
    (temp / "probe").write_bytes(b"xx" + MARKERS["title"].encode() + b"yy")
    assert _scan(temp) == [(str(temp / "probe"), "title")]
