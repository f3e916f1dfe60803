"""The report model: allowed and refused state transitions, derived properties."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone

import pytest

from tellakit.errors import InvalidTransition
from tellakit.reports import OUTBOX, Attachment, FileState, Report, Status, check_transition

ALLOWED = {
    (Status.DRAFT, Status.QUEUED),
    (Status.DRAFT, Status.UPLOADING),
    (Status.QUEUED, Status.UPLOADING),
    (Status.QUEUED, Status.PAUSED),
    (Status.UPLOADING, Status.PAUSED),
    (Status.UPLOADING, Status.INTERRUPTED),
    (Status.UPLOADING, Status.SUBMITTED),
    (Status.UPLOADING, Status.QUEUED),
    (Status.PAUSED, Status.UPLOADING),
    (Status.PAUSED, Status.QUEUED),
    (Status.INTERRUPTED, Status.UPLOADING),
    (Status.INTERRUPTED, Status.QUEUED),
    (Status.INTERRUPTED, Status.PAUSED),
}
PAIRS = list(itertools.product(Status, Status))


@pytest.mark.parametrize(("current", "new"), sorted(ALLOWED), ids=lambda s: s.value)
def test_allowed_transition_passes(current: Status, new: Status) -> None:
    check_transition(current, new)


@pytest.mark.parametrize(
    ("current", "new"), [p for p in PAIRS if p not in ALLOWED], ids=lambda s: s.value
)
def test_refused_transition_names_both_states(current: Status, new: Status) -> None:
    with pytest.raises(InvalidTransition) as info:
        check_transition(current, new)
    message = str(info.value)
    assert repr(current.value) in message
    assert repr(new.value) in message
    assert (info.value.current, info.value.requested) == (current.value, new.value)


def test_no_way_back_to_draft_from_the_outbox_or_submitted() -> None:
    for status in [*OUTBOX, Status.SUBMITTED]:
        with pytest.raises(InvalidTransition, match="draft"):
            check_transition(status, Status.DRAFT)


def test_submitted_is_final() -> None:
    for new in Status:
        with pytest.raises(InvalidTransition, match="final"):
            check_transition(Status.SUBMITTED, new)


def test_check_transition_accepts_stored_strings() -> None:
    check_transition("draft", "queued")  # type: ignore[arg-type]
    with pytest.raises(InvalidTransition):
        check_transition("queued", "draft")  # type: ignore[arg-type]


def test_outbox_holds_exactly_the_four_in_between_states() -> None:
    assert {Status.QUEUED, Status.UPLOADING, Status.PAUSED, Status.INTERRUPTED} == OUTBOX


def _report(status: Status, attachments: list[Attachment]) -> Report:
    stamp = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return Report(
        "r1",
        "Title",
        "",
        status,
        None,
        None,
        stamp,
        stamp,
        None,
        None,
        False,
        False,
        0,
        attachments,
    )


def test_report_properties_follow_status_and_attachments() -> None:
    a = Attachment("a1", "f1", "a.jpg", "image/jpeg", 100, "00", 0, bytes_sent=40)
    b = Attachment(
        "a2", "f2", "b.pdf", "application/pdf", 50, "11", 1, state=FileState.VERIFIED, bytes_sent=50
    )
    draft = _report(Status.DRAFT, [a, b])
    assert draft.editable and not draft.in_outbox
    assert (draft.total_bytes, draft.bytes_sent, draft.file_count) == (150, 90, 2)
    queued = _report(Status.QUEUED, [])
    assert queued.in_outbox and not queued.editable
    assert not _report(Status.SUBMITTED, []).in_outbox


def test_attach_copies_file_metadata_at_the_end() -> None:
    class F:
        id, name, mime, size, sha256 = "f9", "clip.mp4", "video/mp4", 7, "ab"

    report = _report(Status.DRAFT, [])
    first = report.attach(F())
    second = report.attach(F())
    assert (first.file_id, first.name, first.size, first.sha256) == ("f9", "clip.mp4", 7, "ab")
    assert (first.position, second.position) == (0, 1)
    assert first.id != second.id
    assert first.state is FileState.PENDING
