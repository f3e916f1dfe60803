"""Batch manifests: checking every row, importing good rows whole, submitting many reports."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from tellakit.batch import import_manifest, read_manifest
from tellakit.errors import ManifestError
from tellakit.reports import Status


@pytest.fixture
def media(tmp_path: Path) -> Path:
    folder = tmp_path / "media"
    (folder / "site-a").mkdir(parents=True)
    (folder / "site-b").mkdir()
    for name in ("1.jpg", "2.jpg", "notes.txt"):
        (folder / "site-a" / name).write_bytes(name.encode() * 10)
    (folder / "site-b" / "3.jpg").write_bytes(b"three")
    return folder


def write_csv(folder: Path, text: str) -> Path:
    path = folder / "manifest.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_manifest_resolves_paths_and_globs_in_order(media):
    path = write_csv(
        media,
        "title,description,files\n"
        "Site A,Two photos and notes,site-a/*.jpg; site-a/notes.txt\n"
        "Site B,,site-b/3.jpg\n"
        "Text only,No files,\n",
    )
    manifest = read_manifest(path)
    assert manifest.ok
    assert [r.row for r in manifest.rows] == [2, 3, 4]
    a, b, text = manifest.rows
    assert [p.name for p in a.files] == ["1.jpg", "2.jpg", "notes.txt"]
    assert all(p.is_absolute() for p in a.files)
    assert b.files == (media.resolve() / "site-b" / "3.jpg",)
    assert text.files == ()
    assert manifest.bytes == sum(p.stat().st_size for r in manifest.rows for p in r.files)


def test_every_bad_row_is_reported_with_its_spreadsheet_row_number(media):
    (media / "site-a" / "gone.jpg").symlink_to(media / "elsewhere.jpg")  # dangling link
    path = write_csv(
        media,
        "title,description,files\n"
        "Good,,site-a/1.jpg\n"  # row 2
        '"  ",,site-a/2.jpg\n'  # row 3: empty title
        "Missing,,site-a/nope.jpg\n"  # row 4: missing file
        "No match,,site-c/*.png\n"  # row 5: glob matches nothing
        'Multi,"line one\nline two",site-a\n'  # row 6: a folder, not a file
        "Good,,site-a/1.jpg\n"  # row 7: duplicate of row 2
        "Dangling,,site-a/gone.jpg\n",  # row 8: unreadable path
    )
    manifest = read_manifest(path)
    rows = {row: msg for row, msg in manifest.problems}
    assert [r.row for r in manifest.rows] == [2]
    assert rows[3] == "empty title"
    assert "not found" in rows[4] and "nope.jpg" in rows[4]
    assert "matches" in rows[5]
    assert "folder" in rows[6]
    assert rows[7] == "duplicate of row 2"
    assert "cannot be read" in rows[8]
    with pytest.raises(ManifestError) as info:
        manifest.raise_for_problems()
    assert {row for row, _ in info.value.problems} == set(rows)
    assert "row 4" in str(info.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_a_file_without_read_permission_is_reported(media):
    locked = media / "site-a" / "locked.jpg"
    locked.write_bytes(b"x")
    locked.chmod(0)
    path = write_csv(media, "title,files\nLocked,site-a/locked.jpg\n")
    ((row, message),) = read_manifest(path).problems
    assert row == 2
    assert "permission denied" in message


def test_a_row_with_several_problems_lists_each(media):
    path = write_csv(media, "title,files\n,a.jpg;b.jpg\n")
    problems = read_manifest(path).problems
    assert [row for row, _ in problems] == [2, 2, 2]
    assert problems[0][1] == "empty title"


def test_same_title_with_other_files_is_not_a_duplicate(media):
    path = write_csv(media, "title,files\nSite,site-a/1.jpg\nSite,site-a/2.jpg\n")
    assert read_manifest(path).ok


def test_a_file_named_twice_in_a_row_is_attached_once(media):
    path = write_csv(media, "title,files\nSite,site-a/1.jpg;site-a/*.jpg\n")
    (row,) = read_manifest(path).rows
    assert [p.name for p in row.files] == ["1.jpg", "2.jpg"]


def test_manifest_without_title_column_is_refused_whole(media):
    path = write_csv(media, "name,files\nx,site-a/1.jpg\n")
    with pytest.raises(ManifestError, match="no 'title' column"):
        read_manifest(path)


def test_unreadable_manifest_file_is_a_manifest_error(tmp_path):
    with pytest.raises(ManifestError, match="cannot read"):
        read_manifest(tmp_path / "absent.csv")


def test_header_is_case_insensitive_and_bom_tolerant(media):
    path = media / "excel.csv"
    path.write_bytes("\ufeffTitle,Files\nSite,site-b/3.jpg\n".encode())
    (row,) = read_manifest(path).rows
    assert row.title == "Site"


def test_dataframe_rows_are_numbered_by_index_label_and_folder_is_explicit(media):
    frame = pd.DataFrame(
        {
            "title": ["A", None, "C"],
            "description": ["", "", float("nan")],
            "files": ["site-a/1.jpg", "site-a/2.jpg", None],
        },
        index=[10, 11, 12],
    )
    manifest = read_manifest(frame, folder=media)
    assert manifest.problems == ((11, "empty title"),)
    assert [r.row for r in manifest.rows] == [10, 12]
    assert manifest.rows[1].description == ""
    assert manifest.rows[1].files == ()


# --- importing into a real vault -------------------------------------------------------------


@pytest.fixture
def vault(tmp_path: Path):
    from tellakit.vault import create_vault

    with create_vault(tmp_path / "vault", "correct horse", work_factor=LOW_WORK_FACTOR) as v:
        yield v


LOW_WORK_FACTOR = 10  # scrypt log2(N) for test vaults; real vaults use age's 18


def test_strict_import_of_a_bad_manifest_imports_nothing(media, vault):
    path = write_csv(media, "title,files\nGood,site-a/1.jpg\nBad,site-a/missing.jpg\n")
    with pytest.raises(ManifestError) as info:
        import_manifest(vault, path)
    assert info.value.problems[0][0] == 3
    assert vault.list_reports() == []
    assert vault.list_files() == []


def test_lenient_import_takes_the_good_rows_whole(media, vault):
    path = write_csv(
        media,
        "title,description,files\n"
        "Site A,two photos,site-a/*.jpg\n"
        ",no title,site-a/notes.txt\n"
        "Site B,,site-b/3.jpg\n",
    )
    result = import_manifest(vault, path, strict=False)
    assert result.skipped == [(3, "empty title")]
    assert sorted(result.report_ids) == [2, 4]
    a = vault.get_report(result.report_ids[2])
    assert a.status is Status.DRAFT
    assert a.description == "two photos"
    assert [att.name for att in a.attachments] == ["1.jpg", "2.jpg"]
    with vault.open_file(a.attachments[1].file_id) as reader:
        assert reader.read() == (media / "site-a" / "2.jpg").read_bytes()
    assert len(vault.list_files()) == 3  # notes.txt of the bad row was never imported


def test_outbox_import_queues_every_report(media, vault):
    path = write_csv(media, "title,files\nA,site-a/1.jpg\nB,site-b/3.jpg\n")
    result = import_manifest(vault, path, outbox=True)
    assert {vault.get_report(rid).status for rid in result.ids} == {Status.QUEUED}


def test_a_row_failing_during_import_leaves_no_files_behind(media, vault):
    path = write_csv(media, "title,files\nA,site-b/3.jpg\nB,site-a/1.jpg;site-a/2.jpg\n")
    manifest = read_manifest(path)
    (media / "site-a" / "2.jpg").unlink()  # vanishes after the check, before the import
    result = import_manifest(vault, manifest, strict=False)
    assert list(result.report_ids) == [2]
    assert result.skipped[0][0] == 3
    assert "import failed" in result.skipped[0][1]
    assert [f.name for f in vault.list_files()] == ["3.jpg"]  # 1.jpg of row 3 was undone


def test_strict_import_failing_midway_undoes_every_report(media, vault):
    path = write_csv(media, "title,files\nA,site-b/3.jpg\nB,site-a/1.jpg;site-a/2.jpg\n")
    manifest = read_manifest(path)
    (media / "site-a" / "2.jpg").unlink()
    with pytest.raises(ManifestError, match="row 3: import failed"):
        import_manifest(vault, manifest)
    assert vault.list_reports() == []
    assert vault.list_files() == []
