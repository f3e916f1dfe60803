"""Live progress of the reports being sent: bytes in flight, speed, and the snapshot a view reads.

Counts are of each file's plaintext, what a person knows as its size (a sealed file's bytes on
the wire are a little more: the submission converts what it reports, and the recorded counts,
of the wire's bytes, are capped at the file's size).

The vault records what the server confirmed (chunks, a file); the bytes of the requests in
flight exist only here, so a view that (re)opens mid-chunk still shows them, apart from the
confirmed ones: in-flight bytes are lost when a connection drops, confirmed ones are where the
next attempt goes on. It shows as well how far a download that verifies a file got. A run's
figures are dropped when it ends: from then on the vault's record is the truth.

Thread rules: ``ProgressTracker._lock`` guards ``_sent`` ((confirmed, in flight) per
attachment), ``_verifying`` (bytes downloaded back per attachment) and ``_meters`` (one speed
meter per report); the vault is read, and events are built, without it. A report's worker and
its chunk senders write; views read from any thread.
"""

from __future__ import annotations

import threading

from tellakit.engine.events import FileEvent, FileProgress, ReportProgress, SpeedMeter
from tellakit.engine.scheduler import RetryOutlook
from tellakit.reports import CHECKED, Attachment, FileState, Report, Status

#: File states whose bytes are all on the server.
_ON_SERVER = (FileState.UPLOADED, *CHECKED)
#: attachment id -> (bytes confirmed, bytes in flight)
Live = dict[str, tuple[int, int]]


class ProgressTracker:
    """Bytes in flight and speed per report, between the start and the end of its run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: dict[str, Live] = {}  # report id -> its files' live figures
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

    def file_bytes(
        self, report: Report, att: Attachment, confirmed: int, in_flight: int = 0
    ) -> FileEvent:
        """Record that ``confirmed`` bytes of ``att`` are on the server and ``in_flight`` on
        their way; the event that says so."""
        with self._lock:
            files = self._sent.setdefault(report.id, {})
            previous = sum(files.get(att.id, (0, 0)))
            files[att.id] = (confirmed, in_flight)
            meter = self._meters.setdefault(report.id, SpeedMeter())
            speed = meter.add(max(0, confirmed + in_flight - previous))
            live = dict(files)
        return _file_event(report, att, live, confirmed, in_flight, speed=speed)

    def verify_bytes(self, report: Report, att: Attachment, downloaded: int) -> FileEvent:
        """Record that ``downloaded`` bytes of the server's copy of ``att`` were hashed (a
        download that verifies it); the event that says so. The upload figures stay."""
        with self._lock:
            self._verifying.setdefault(report.id, {})[att.id] = downloaded
            live = dict(self._sent.get(report.id, {}))
        return _file_event(report, att, live, att.size, 0, verify_bytes=downloaded)

    def snapshot(
        self, report: Report, *, active: bool, retry: RetryOutlook | None = None
    ) -> ReportProgress:
        """The report's live state: the vault's record plus what is in flight now."""
        with self._lock:
            verifying = dict(self._verifying.get(report.id, {}))
            live = dict(self._sent.get(report.id, {}))
            meter = self._meters.get(report.id)
            speed = meter.rate if meter is not None and active else 0.0
        files = tuple(
            FileProgress(
                attachment_id=a.id,
                name=a.name,
                remote_name=a.remote_name,
                bytes_sent=min(_file_bytes(a, live), a.size),
                total=a.size,
                state=a.state,
                error=a.error,
                bytes_confirmed=min(_file_bytes(a, live, sent=False), a.size),
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
            bytes_sent=sum(f.bytes_sent for f in files),
            total=report.total_bytes,
            speed_bps=speed,
            active=active,
            remote_folder=report.remote_folder,
            files=files,
            retry=retry,
            bytes_confirmed=sum(f.bytes_confirmed for f in files),
        )


def _file_event(
    report: Report,
    att: Attachment,
    live: Live,
    confirmed: int,
    in_flight: int,
    *,
    speed: float = 0.0,
    verify_bytes: int | None = None,
) -> FileEvent:
    return FileEvent(
        report_id=report.id,
        state=Status.UPLOADING,
        report_bytes_sent=min(_report_bytes(report, live), report.total_bytes),
        report_total=report.total_bytes,
        report_bytes_confirmed=min(_report_bytes(report, live, sent=False), report.total_bytes),
        speed_bps=speed,
        attachment_id=att.id,
        name=att.name,
        bytes_sent=confirmed + in_flight,
        total=att.size,
        file_state=att.state,
        bytes_confirmed=confirmed,
        verify_bytes=verify_bytes,
    )


def _file_bytes(att: Attachment, live: Live, *, sent: bool = True) -> int:
    """Bytes of ``att`` on the server (whole when uploaded), plus those in flight if ``sent``:
    the vault's record or the live figures, whichever is further."""
    if att.state in _ON_SERVER:
        return att.size
    confirmed, in_flight = live.get(att.id, (0, 0))
    confirmed = max(att.bytes_sent, confirmed)
    return confirmed + in_flight if sent else confirmed


def _report_bytes(report: Report, live: Live, *, sent: bool = True) -> int:
    """Bytes of the report on the server (plus in flight if ``sent``)."""
    return sum(min(_file_bytes(a, live, sent=sent), a.size) for a in report.attachments)
