"""pandas views: columns, dtypes, filters, history and round trips through CSV and Parquet."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from tellakit import summary
from tellakit.reports import OUTBOX, Attachment, FileState, Report, Status, Verification

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)

REPORT_DTYPES = {
    "id": "string",
    "title": "string",
    "status": "category",
    "reason": "string",
    "created": "datetime64[us, UTC]",
    "updated": "datetime64[us, UTC]",
    "submitted_at": "datetime64[us, UTC]",
    "files": "Int64",
    "bytes": "Int64",
    "bytes_sent": "Int64",
    "remote_path": "string",
    "attempts": "Int64",
    "verification": "string",
}
FILE_DTYPES = {
    "report": "string",
    "name": "string",
    "mime": "string",
    "size": "Int64",
    "sha256": "string",
    "state": "category",
    "bytes_sent": "Int64",
    "remote_path": "string",
    "verified": "boolean",
    "verification": "category",
}


def make_report(status: Status, n: int, *, day: int = 0, sizes: tuple[int, ...] = (100, 2000)):
    """A report in ``status`` with attachments whose bookkeeping fits that status."""
    done = status is Status.SUBMITTED
    folder = None if status in (Status.DRAFT, Status.QUEUED) else f"Tella/Report {n}"
    attachments = []
    for pos, size in enumerate(sizes):
        if done:
            state, sent = FileState.VERIFIED, size
        elif status in (Status.UPLOADING, Status.PAUSED, Status.INTERRUPTED) and pos == 0:
            state, sent = FileState.UPLOADED, size
        else:
            state, sent = FileState.PENDING, 0
        attachments.append(
            Attachment(
                id=uuid.uuid4().hex,
                file_id=uuid.uuid4().hex,
                name=f"file{pos}.jpg",
                mime="image/jpeg",
                size=size,
                sha256=f"{pos:064x}",
                position=pos,
                state=state,
                bytes_sent=sent,
                remote_path=f"{folder}/file{pos}.jpg" if sent else None,
                verified_at=T0 if done else None,
                verification=Verification.SERVER_SHA256 if done else None,
            )
        )
    created = T0 + timedelta(days=day)
    return Report(
        id=uuid.uuid4().hex,
        title=f"Report {n}",
        description="",
        status=status,
        reason="The server is unavailable" if status is Status.INTERRUPTED else None,
        retryable=True if status is Status.INTERRUPTED else None,
        created_at=created,
        updated_at=created + timedelta(hours=1),
        submitted_at=created + timedelta(hours=2) if done else None,
        remote_folder=folder,
        description_sent=done,
        manifest_sent=done,
        attempts=1 if folder else 0,
        attachments=attachments,
    )


@pytest.fixture
def every_state() -> list[Report]:
    return [make_report(status, n, day=n) for n, status in enumerate(Status)]


def dtypes(frame: pd.DataFrame) -> dict[str, str]:
    return {name: str(dtype) for name, dtype in frame.dtypes.items()}


def test_reports_frame_has_the_documented_columns_and_dtypes(every_state):
    frame = summary.reports_frame(every_state)
    assert dtypes(frame) == REPORT_DTYPES
    assert len(frame) == len(Status)


def test_status_categories_list_every_status_even_when_absent():
    frame = summary.reports_frame([make_report(Status.DRAFT, 1)])
    assert list(frame["status"].cat.categories) == [s.value for s in Status]
    counts = frame["status"].value_counts()
    assert counts["draft"] == 1
    assert counts["submitted"] == 0


def test_reports_frame_values_follow_the_reports(every_state):
    frame = summary.reports_frame(every_state).set_index("id")
    for report in every_state:
        row = frame.loc[report.id]
        assert row["status"] == report.status.value
        assert row["files"] == report.file_count
        assert row["bytes"] == report.total_bytes
        assert row["bytes_sent"] == report.bytes_sent
        assert row["created"] == pd.Timestamp(report.created_at)
        if report.submitted_at is None:
            assert pd.isna(row["submitted_at"])
        else:
            assert row["submitted_at"] == pd.Timestamp(report.submitted_at)
        assert (pd.isna(row["remote_path"])) == (report.remote_folder is None)
        assert (pd.isna(row["reason"])) == (report.reason is None)


def test_files_frame_has_one_row_per_attachment_with_dtypes(every_state):
    frame = summary.files_frame(every_state)
    assert dtypes(frame) == FILE_DTYPES
    assert len(frame) == sum(r.file_count for r in every_state)
    assert list(frame["state"].cat.categories) == [s.value for s in FileState]
    submitted = next(r for r in every_state if r.status is Status.SUBMITTED)
    rows = frame[frame["report"] == submitted.id]
    assert rows["verified"].all()
    assert (rows["remote_path"].str.startswith(submitted.remote_folder + "/")).all()
    draft = next(r for r in every_state if r.status is Status.DRAFT)
    assert not frame[frame["report"] == draft.id]["verified"].any()


def test_frames_say_how_files_were_verified_and_size_only_is_not_verified():
    report = make_report(Status.SUBMITTED, 1, sizes=(10, 20, 30))
    checked_by_size = report.attachments[1]
    checked_by_size.state = FileState.SIZE_CHECKED
    checked_by_size.verification = Verification.SIZE_ONLY
    report.attachments[2].verification = Verification.DOWNLOAD
    files = summary.files_frame([report])
    assert list(files["verification"]) == ["server_sha256", "size_only", "download"]
    assert list(files["verified"]) == [True, False, True]
    assert list(files["verification"].cat.categories) == [v.value for v in Verification]
    (label,) = summary.reports_frame([report])["verification"]
    assert label == "server SHA-256, downloaded and hashed, size checked, content not verified"
    assert summary.verification_label([None, None]) is None
    assert summary.verification_label(["recalculated"]) == "recalculated by the server"


def test_empty_frames_keep_columns_and_dtypes():
    assert dtypes(summary.reports_frame([])) == REPORT_DTYPES
    assert dtypes(summary.files_frame([])) == FILE_DTYPES
    hist = summary.history_frame(summary.reports_frame([]))
    assert list(hist.columns) == ["reports", "bytes"]
    assert str(hist.index.dtype) == "datetime64[us, UTC]"


def test_bytes_sent_never_counts_more_than_the_file_size():
    report = make_report(Status.SUBMITTED, 1, sizes=(10,))
    report.attachments[0].bytes_sent = 15  # a resent chunk counted twice by a worker
    assert summary.reports_frame([report])["bytes_sent"].iloc[0] == 10


def test_history_counts_reports_and_bytes_per_day_with_quiet_days_as_zero():
    reports = [
        make_report(Status.SUBMITTED, 1, day=0, sizes=(100,)),
        make_report(Status.SUBMITTED, 2, day=0, sizes=(50, 50)),
        make_report(Status.SUBMITTED, 3, day=2, sizes=(7,)),
        make_report(Status.QUEUED, 4, day=1),
    ]
    hist = summary.history_frame(summary.reports_frame(reports), "D")
    assert dtypes(hist) == {"reports": "Int64", "bytes": "Int64"}
    assert hist.index.name == "period"
    assert list(hist["reports"]) == [2, 0, 1]
    assert list(hist["bytes"]) == [200, 0, 7]
    assert hist.index[0] == pd.Timestamp("2026-03-01", tz="UTC")


def test_frames_round_trip_through_parquet(tmp_path, every_state):
    for frame in (summary.reports_frame(every_state), summary.files_frame(every_state)):
        path = tmp_path / "frame.parquet"
        frame.to_parquet(path)
        pd.testing.assert_frame_equal(pd.read_parquet(path), frame)


def test_frames_round_trip_through_csv(tmp_path, every_state):
    tricky = make_report(Status.INTERRUPTED, 9)
    tricky.title = "NA"  # must stay text, not become missing
    tricky.reason = 'He said "no", then left,\nlater'
    reports = [*every_state, tricky]
    for kind, frame in (
        ("reports", summary.reports_frame(reports)),
        ("files", summary.files_frame(reports)),
    ):
        path = tmp_path / f"{kind}.csv"
        frame.to_csv(path, index=False)
        pd.testing.assert_frame_equal(summary.read_csv(path, kind), frame)


def test_outbox_bytes_plot_stacks_sent_and_remaining_per_state(every_state):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    frame = summary.reports_frame(every_state)
    outbox = frame[frame["status"].isin([s.value for s in OUTBOX])]
    ax = summary.plot_outbox_bytes(outbox)
    heights = [p.get_height() for p in ax.patches]
    assert len(heights) == 2 * len(OUTBOX)
    assert sum(heights) == pytest.approx(outbox["bytes"].sum() / 2**20)


def test_submissions_plot_has_one_bar_per_period():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    reports = [make_report(Status.SUBMITTED, n, day=n * 2) for n in range(3)]
    hist = summary.history_frame(summary.reports_frame(reports))
    ax = summary.plot_submissions(hist)
    assert [p.get_height() for p in ax.patches] == [1, 0, 1, 0, 1]


# --- read from a real vault ------------------------------------------------------------


PATHS = {
    Status.DRAFT: [],
    Status.QUEUED: [Status.QUEUED],
    Status.UPLOADING: [Status.UPLOADING],
    Status.PAUSED: [Status.UPLOADING, Status.PAUSED],
    Status.INTERRUPTED: [Status.UPLOADING, Status.INTERRUPTED],
    Status.SUBMITTED: [Status.UPLOADING, Status.SUBMITTED],
}


@pytest.fixture
def vault_every_state(tmp_path):
    """A vault holding one report in every status, with bookkeeping as the engine writes it."""
    from tellakit.vault import create_vault

    with create_vault(tmp_path / "v", "passphrase", work_factor=10) as vault:
        for n, (status, path) in enumerate(PATHS.items()):
            files = [
                vault.import_bytes(b"x" * (n + 1) * 100, f"{status.value}-{i}.jpg") for i in (1, 2)
            ]
            report = vault.create_report(f"{status.value} report", "", [f.id for f in files])
            for step in path:
                reason = "The server is unavailable" if step is Status.INTERRUPTED else None
                vault.set_status(report.id, step, reason=reason, retryable=bool(reason) or None)
            if path:
                folder = f"Tella/{status.value} report"
                vault.update_report_submission(report.id, remote_folder=folder, attempts=1)
                first, second = report.attachments
                done = status is Status.SUBMITTED
                vault.update_attachment(
                    report.id,
                    first.id,
                    state=FileState.VERIFIED if done else FileState.UPLOADED,
                    bytes_sent=first.size,
                    remote_path=f"{folder}/{first.name}",
                    verification=Verification.RECALCULATED if done else None,
                )
                if done:
                    vault.update_attachment(
                        report.id,
                        second.id,
                        state=FileState.SIZE_CHECKED,
                        bytes_sent=second.size,
                        verification=Verification.SIZE_ONLY,
                    )
        yield vault


def test_vault_frames_have_columns_and_dtypes_for_reports_in_every_state(vault_every_state):
    frame = summary.reports(vault_every_state)
    assert dtypes(frame) == REPORT_DTYPES
    assert sorted(frame["status"]) == sorted(s.value for s in Status)
    row = frame.set_index("status").loc["interrupted"]
    assert row["reason"] == "The server is unavailable"
    assert row["attempts"] == 1
    assert row["bytes_sent"] == 500  # the first of two 500-byte files
    assert row["bytes"] == 1000
    done = frame.set_index("status").loc["submitted"]
    assert not pd.isna(done["submitted_at"])
    assert done["remote_path"] == "Tella/submitted report"
    assert done["verification"] == "recalculated by the server, size checked, content not verified"
    assert pd.isna(row["verification"])
    assert dtypes(summary.files(vault_every_state)) == FILE_DTYPES
    assert len(summary.files(vault_every_state)) == 2 * len(Status)


def test_outbox_and_submitted_views_filter_by_status(vault_every_state):
    assert set(summary.outbox(vault_every_state)["status"]) == {s.value for s in OUTBOX}
    done = summary.submitted(vault_every_state)
    assert list(done["status"]) == ["submitted"]
    assert dtypes(done) == REPORT_DTYPES


def test_history_of_a_vault_counts_the_submitted_report(vault_every_state):
    hist = summary.history(vault_every_state, freq="D")
    assert hist["reports"].sum() == 1
    assert hist["bytes"].sum() == summary.submitted(vault_every_state)["bytes"].sum()


@pytest.mark.parametrize("status", [None, Status.SUBMITTED, OUTBOX, []], ids=str)
def test_the_fast_vault_path_builds_the_same_frame_as_the_report_objects(vault_every_state, status):
    # summary.reports() reads Vault.report_rows (one aggregate query); the frame must be the
    # one reports_frame builds from the full Report objects, value for value, dtype for dtype.
    vault = vault_every_state
    extra = vault.create_report("no files", "")  # a report without attachments: 0, 0, 0
    vault.set_status(extra.id, Status.QUEUED)
    fast = summary.reports(vault, status)
    slow = summary.reports_frame(vault.list_reports(status))
    pd.testing.assert_frame_equal(fast, slow)
    assert len(fast) == len(vault.list_reports(status))
