"""The step plan resumes exactly after the last recorded step."""

from __future__ import annotations

from datetime import datetime, timezone

from tellakit.engine.plan import Step, StepKind, plan
from tellakit.reports import Attachment, FileState, Report, Status

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def make_report(**kw) -> Report:
    atts = [
        Attachment(
            id=f"a{i}",
            file_id=f"f{i}",
            name=f"{i}.jpg",
            mime="image/jpeg",
            size=10,
            sha256="0" * 64,
            position=i,
        )
        for i in range(2)
    ]
    fields = dict(
        id="r",
        title="T",
        description="d",
        status=Status.UPLOADING,
        reason=None,
        retryable=None,
        created_at=NOW,
        updated_at=NOW,
        submitted_at=None,
        remote_folder=None,
        description_sent=False,
        manifest_sent=False,
        attempts=0,
        attachments=atts,
    )
    fields.update(kw)
    return Report(**fields)


def kinds(steps: list[Step]) -> list[str]:
    return [s.kind.value + (f":{s.attachment_id}" if s.attachment_id else "") for s in steps]


def test_fresh_report_runs_every_step_in_order():
    assert kinds(plan(make_report())) == [
        "names",
        "folder",
        "description",
        "upload:a0",
        "verify:a0",
        "upload:a1",
        "verify:a1",
        "manifest",
        "finish",
    ]


def test_resume_skips_what_is_recorded():
    r = make_report(remote_folder="Tella/T", description_sent=True)
    for a in r.attachments:
        a.remote_name = a.name
    r.attachments[0].state = FileState.VERIFIED
    r.attachments[1].state = FileState.UPLOADED
    assert kinds(plan(r)) == ["folder", "verify:a1", "manifest", "finish"]


def test_interrupted_and_failed_files_are_uploaded_again():
    r = make_report(description_sent=True)
    for a in r.attachments:
        a.remote_name = a.name
    r.attachments[0].state = FileState.UPLOADING
    r.attachments[1].state = FileState.FAILED
    assert [s.kind for s in plan(r)].count(StepKind.UPLOAD) == 2


def test_manifest_can_be_turned_off_and_submitted_has_no_steps():
    assert "manifest" not in kinds(plan(make_report(), upload_manifest=False))
    assert plan(make_report(status=Status.SUBMITTED)) == []
