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


# --- submitting many to the development server ------------------------------------------------

MiB = 1024 * 1024


def build_batch(root: Path, reports: int, *, large_every: int = 100) -> Path:
    """A media tree with 3 small files per report (and a 6 MiB video now and then) + manifest."""
    rows = ["title,description,files"]
    for i in range(reports):
        site = root / f"site-{i:03d}"
        site.mkdir(parents=True)
        for j in range(3):
            (site / f"photo{j}.jpg").write_bytes(os.urandom(1000 + 700 * j + i))
        if i % large_every == 0:
            (site / "video.mp4").write_bytes(os.urandom(6 * MiB + i))
        rows.append(f'Report {i},"Site {i}, seen at dawn",site-{i:03d}/*')
    manifest = root / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return manifest


@pytest.fixture
def connected_vault(vault, devserver):
    from tellakit.engine import connect

    connect(vault, devserver.url, "alice", "secret", "Tella")
    return vault


def server_tree(devserver) -> dict[str, dict[str, bytes]]:
    """Folder name -> {file name: bytes} under alice's Tella folder."""
    tella = devserver.files_root("alice") / "Tella"
    if not tella.exists():
        return {}
    return {
        folder.name: {f.name: f.read_bytes() for f in folder.iterdir() if f.is_file()}
        for folder in tella.iterdir()
        if folder.is_dir()
    }


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_300_reports_with_5_percent_server_errors_all_arrive_once(
    tmp_path, connected_vault, devserver
):
    from tellakit import summary
    from tellakit.batch import submit_many
    from tellakit.engine import Submitter, Tuning

    vault = connected_vault
    media = tmp_path / "media"
    result = import_manifest(vault, build_batch(media, 300), outbox=True)
    assert len(result.ids) == 300
    devserver.faults.probability(503, 0.05)
    # A lower threshold so the 6 MiB videos go in chunks (5 MiB, the server's minimum, + rest).
    tuning = Tuning(single_put_limit=4 * MiB, initial_chunk=5 * MiB, min_chunk=5 * MiB)
    with Submitter(vault, max_parallel_reports=4, auto_retry=False, tuning=tuning) as sub:
        outcome = submit_many(
            vault,
            submitter=sub,
            max_parallel=4,
            max_attempts=20,
            retry_delay=0.05,
            progress=False,
        )
    injected = sum(1 for r in devserver.log if r.status == 503)
    assert injected > 100, (str(outcome), len(devserver.log))  # the faults really happened
    assert any("/uploads/" in r.path for r in devserver.log)  # and chunked uploads too
    assert outcome.ok, str(outcome)
    assert sorted(outcome.submitted) == sorted(result.ids)
    assert outcome.failed == {} and outcome.not_attempted == []

    tree = server_tree(devserver)
    assert sorted(tree) == sorted(f"Report {i}" for i in range(300))  # no "Report 7 (2)"
    for i in range(300):
        folder, site = tree[f"Report {i}"], media / f"site-{i:03d}"
        sent = {name: data for name, data in folder.items() if name not in META_FILES}
        assert sent == {f.name: f.read_bytes() for f in site.iterdir()}
        assert folder["description.txt"].decode() == f"Site {i}, seen at dawn"

    frame = summary.submitted(vault)
    assert len(frame) == 300
    assert (frame["bytes_sent"] == frame["bytes"]).all()
    assert frame["bytes"].sum() == sum(f.stat().st_size for f in media.glob("site-*/*"))
    assert summary.files(vault)["verified"].all()
    assert summary.history(vault)["reports"].sum() == 300


META_FILES = {"description.txt", "manifest.json"}


@pytest.mark.timeout(120)
def test_a_refused_login_midway_stops_the_batch_and_says_what_went_out(
    tmp_path, connected_vault, devserver
):
    from tellakit.batch import submit_many

    vault = connected_vault
    media = tmp_path / "media"
    result = import_manifest(vault, build_batch(media, 30, large_every=1000))
    devserver.log.clear()
    devserver.faults.respond(401, nth=60, times=0)  # from the 60th request on: login refused
    outcome = submit_many(vault, result.ids, max_parallel=2, progress=False)

    assert outcome.stopped_by is not None and "login" in outcome.stopped_by
    assert not outcome.ok
    assert outcome.submitted and outcome.not_attempted  # stopped midway
    every = outcome.submitted + list(outcome.failed) + outcome.not_attempted
    assert sorted(every) == sorted(result.ids)  # each report in exactly one group

    tree = server_tree(devserver)
    for rid in result.ids:
        report = vault.get_report(rid)
        if rid in outcome.submitted:
            assert report.status is Status.SUBMITTED
            site = media / f"site-{report.title.split()[1].zfill(3)}"
            assert set(tree[report.title]) - META_FILES == {f.name for f in site.iterdir()}
        elif rid in outcome.not_attempted:
            assert report.status is Status.DRAFT  # untouched: still a draft
            assert report.title not in tree
        else:
            assert report.status is Status.INTERRUPTED
            assert report.retryable is False


@pytest.mark.timeout(120)
def test_a_report_that_keeps_meeting_retryable_errors_fails_alone(
    tmp_path, connected_vault, devserver
):
    from tellakit.batch import submit_many

    vault = connected_vault
    result = import_manifest(vault, build_batch(tmp_path / "media", 6, large_every=1000))
    unlucky = vault.get_report(result.report_ids[3])  # row 3: "Report 1"
    devserver.faults.respond(503, path="/Report 1(/|$)", times=0)  # its folder: always busy
    outcome = submit_many(
        vault, result.ids, max_parallel=2, max_attempts=3, retry_delay=0.01, progress=False
    )
    assert outcome.stopped_by is None  # retryable: the batch went on
    assert list(outcome.failed) == [unlucky.id]
    assert "503" in outcome.failed[unlucky.id]
    assert sorted(outcome.submitted) == sorted(set(result.ids) - {unlucky.id})
    assert outcome.not_attempted == []
    report = vault.get_report(unlucky.id)
    assert report.status is Status.INTERRUPTED and report.retryable is True
    assert report.attempts == 3
