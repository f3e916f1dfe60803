"""Live progress of the reports being sent: bytes in flight, speed, and the snapshot a view reads.

Counts are of each file's plaintext, what a person knows as its size (a sealed file's bytes on
the wire are a little more; the submission converts, and the recorded counts are capped).

The vault records what the server confirmed (a chunk, a file); between two confirmations the
bytes of the request in flight exist only here, so a view that (re)opens mid-chunk still shows
them, as it shows how far a download that verifies a file got. A run's figures are dropped
when it ends: from then on the vault's record is the truth.

Thread rules: ``ProgressTracker._lock`` guards ``_sent`` (bytes in flight per attachment),
``_verifying`` (bytes downloaded back per attachment) and ``_meters`` (one speed meter per
report); the vault is read, and events are built, without it.
Worker threads write (one worker per report at a time); views read from any thread.
"""

from __future__ import annotations

import threading

from tellakit.engine.events import FileEvent, FileProgress, ReportProgress, SpeedMeter
from tellakit.engine.scheduler import RetryOutlook
from tellakit.reports import CHECKED, Attachment, FileState, Report, Status

#: File states whose bytes are all on the server.
_ON_SERVER = (FileState.UPLOADED, *CHECKED)


class ProgressTracker:
    """Bytes in flight and speed per report, between the start and the end of its run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: dict[str, dict[str, int]] = {}  # report id -> attachment id -> bytes
        self._verifying: dict[str, dict[str, int]] = {}  # report id -> attachment id -> bytes
        self._meters: dict[str, SpeedMeter] = {}

    def begin(self, report_id: str) -> None:
        """A run starts: forget the figures of any earlier run."""
        with self._lock:
            self._sent[report_id] = {}
            self._verifying[report_id] = {}
            self._meters[report_id] = SpeedMeter()

    def end(self, report_id: str) -> None:
        """The run ended: the vault's record is the truth again, and nothing moves."""
        with self._lock:
            self._sent.pop(report_id, None)
            self._verifying.pop(report_id, None)
            self._meters.pop(report_id, None)

    def speed(self, report_id: str) -> float:
        """Smoothed bytes per second of the report's run (0 when none runs)."""
        with self._lock:
            meter = self._meters.get(report_id)
            return meter.rate if meter is not None else 0.0

    def file_bytes(self, report: Report, att: Attachment, sent: int) -> FileEvent:
        """Record that ``sent`` bytes of ``att`` are on their way; the event that says so."""
        with self._lock:
            files = self._sent.setdefault(report.id, {})
            previous = files.get(att.id, 0)
            files[att.id] = sent
            meter = self._meters.setdefault(report.id, SpeedMeter())
            speed = meter.add(max(0, sent - previous))
            in_flight = dict(files)
        return _file_event(report, att, in_flight, sent=sent, speed=speed)

    def verify_bytes(self, report: Report, att: Attachment, downloaded: int) -> FileEvent:
        """Record that ``downloaded`` bytes of the server's copy of ``att`` were hashed (a
        download that verifies it); the event that says so. The upload figures stay."""
        with self._lock:
            self._verifying.setdefault(report.id, {})[att.id] = downloaded
            in_flight = dict(self._sent.get(report.id, {}))
        return _file_event(report, att, in_flight, sent=att.size, verify_bytes=downloaded)

    def snapshot(
        self, report: Report, *, active: bool, retry: RetryOutlook | None = None
    ) -> ReportProgress:
        """The report's live state: the vault's record plus what is in flight now."""
        with self._lock:
            verifying = dict(self._verifying.get(report.id, {}))
            in_flight = dict(self._sent.get(report.id, {}))
            meter = self._meters.get(report.id)
            speed = meter.rate if meter is not None and active else 0.0
        files = tuple(
            FileProgress(
                attachment_id=a.id,
                name=a.name,
                remote_name=a.remote_name,
                bytes_sent=a.size
                if a.state in _ON_SERVER
                else min(a.size, max(a.bytes_sent, in_flight.get(a.id, 0))),
                total=a.size,
                state=a.state,
                error=a.error,
                verification=a.verification,
                verify_bytes=verifying.get(a.id) if a.state is FileState.UPLOADED else None,
            )
            for a in sorted(report.attachments, key=lambda a: a.position)
        )
        return ReportProgress(
            report_id=report.id,
            title=report.title,
            state=report.status,
            reason=report.reason,
            retryable=report.retryable,
            bytes_sent=sum(min(f.bytes_sent, f.total) for f in files),
            total=report.total_bytes,
            speed_bps=speed,
            active=active,
            remote_folder=report.remote_folder,
            files=files,
            retry=retry,
        )


def _file_event(
    report: Report,
    att: Attachment,
    in_flight: dict[str, int],
    *,
    sent: int,
    speed: float = 0.0,
    verify_bytes: int | None = None,
) -> FileEvent:
    return FileEvent(
        report_id=report.id,
        state=Status.UPLOADING,
        report_bytes_sent=min(_report_bytes(report, in_flight), report.total_bytes),
        report_total=report.total_bytes,
        speed_bps=speed,
        attachment_id=att.id,
        name=att.name,
        bytes_sent=sent,
        total=att.size,
        file_state=att.state,
        verify_bytes=verify_bytes,
    )


def _report_bytes(report: Report, in_flight: dict[str, int]) -> int:
    """Bytes of the report sent: whole files on the server, else the larger of the recorded
    and the in-flight count."""
    return sum(
        a.size if a.state in _ON_SERVER else min(a.size, max(a.bytes_sent, in_flight.get(a.id, 0)))
        for a in report.attachments
    )
