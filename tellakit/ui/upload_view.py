"""The upload summary: a bar per file and for the report, Pause / Resume, Delete.

The view follows the engine: it subscribes to progress events and reads a snapshot when it
opens, so closing and reopening it shows the live state; the upload itself runs in the
engine's worker threads and does not care whether a view is open.

The bars tell the truth about a link that drops: the text says how much the server confirmed
apart from what is still on its way; when a connection drops, the bar goes back to the
confirmed bytes and the status says so ("resumes from 42.0 MB of 120.0 MB"), with when the next
automatic try comes and why (the engine's ``RetryOutlook``), counted down while it waits.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING

import ipywidgets as w

from tellakit.engine import (
    FileEvent,
    FileProgress,
    ProgressEvent,
    ReportEvent,
    ReportProgress,
    RetryOutlook,
)
from tellakit.errors import TellakitError
from tellakit.reports import CHECKED, RESUMABLE, STOPPED, FileState, Status, Verification
from tellakit.ui.bridge import Throttle
from tellakit.ui.common import Confirm, Message
from tellakit.ui.fmt import esc, human_size, human_speed, percent
from tellakit.ui.recipients import layout_note
from tellakit.ui.screen import Screen

if TYPE_CHECKING:
    from tellakit.ui.context import AppContext

_STATE_TEXT = {
    "queued": "In the outbox (submit later)",
    "uploading": "Uploading…",
    "paused": "Paused",
    "interrupted": "Interrupted",
    "submitted": "Submitted",
}


def progress_text(sent: int, total: int, speed: float, confirmed: int | None = None) -> str:
    """``'3.1 MB of 10.0 MB · 31% · 2.0 MB on the server · 1.2 MB/s'``: the part confirmed by
    the server is named when some bytes are still on their way."""
    parts = [
        f"{human_size(min(sent, total))} of {human_size(total)}",
        f"{percent(sent, total):.0f}%",
    ]
    if confirmed is not None and confirmed < min(sent, total):
        parts.append(f"{human_size(confirmed)} on the server")
    if speed > 0:
        parts.append(human_speed(speed))
    return " · ".join(parts)


def resume_text(confirmed: int, total: int) -> str:
    """``'Resumes from 42.0 MB of 120.0 MB.'`` (or from the start)."""
    if confirmed <= 0:
        return "Resumes from the start."
    return f"Resumes from {human_size(min(confirmed, total))} of {human_size(total)}."


def retry_text(outlook: RetryOutlook) -> str:
    """``'Automatic retry: connection lost 3 times in the last minute; next try in 12 s.'``."""
    return f"Automatic retry: {outlook.describe()}."


class ProgressRow(w.HBox):
    """Name, bar (0-100) and "bytes of total · % · speed" for one file or the whole report."""

    def __init__(self, name: str, total: int, *, css: str) -> None:
        self.total = total
        self.bar = w.FloatProgress(value=0.0, min=0.0, max=100.0, layout=w.Layout(width="18em"))
        self.bar.add_class(css)
        self.detail = w.HTML()
        self.state = ""
        super().__init__(
            [
                w.HTML(
                    f"<span style='overflow-wrap:anywhere'>{esc(name)}</span>",
                    layout=w.Layout(width="16em"),
                ),
                self.bar,
                self.detail,
            ],
            layout=w.Layout(align_items="center"),
        )
        self.add_class("tk-progress-row")

    def update(
        self,
        sent: int,
        speed: float = 0.0,
        state: str = "",
        confirmed: int | None = None,
        *,
        verification: Verification | None = None,
        verify_bytes: int | None = None,
    ) -> None:
        """Show ``sent`` bytes of the total, ``confirmed`` of them on the server (and the
        file's state when it has one): how it was verified once it is, and how far a download
        that verifies it got meanwhile."""
        done = state in ("uploaded", *CHECKED)
        value = 100.0 if done else percent(sent, self.total)
        self.bar.value = value
        if state == FileState.SIZE_CHECKED:
            style = "warning"  # on the server, but its content was not verified
        elif value >= 100.0:
            style = "success"
        else:
            style = "danger" if state == "failed" else ""
        self.bar.bar_style = style
        self.state = state
        text = progress_text(self.total if done else sent, self.total, speed, confirmed)
        if state == FileState.VERIFIED:
            text += " · verified ✓" + (f" ({verification.label})" if verification else "")
        elif state == FileState.SIZE_CHECKED:
            text += f" · {Verification.SIZE_ONLY.label}"
        elif state == FileState.UPLOADED and verify_bytes is not None:
            text += (
                f" · verifying: downloaded {human_size(min(verify_bytes, self.total))} "
                f"of {human_size(self.total)}"
            )
        self.detail.value = f"<small>{esc(text)}</small>"


class UploadView(Screen):
    """The report's submission screen (Tella's summary with a progress bar per file)."""

    title = "Upload"

    def __init__(self, ctx: AppContext, report_id: str) -> None:
        self.report_id = report_id
        self._throttle = Throttle(ctx.update_rate)
        self._ready = False  # events before the widgets exist are covered by a late refresh
        self._missed = False
        self.file_rows: dict[str, ProgressRow] = {}
        self._ticker: threading.Timer | None = None  # counts a planned retry down
        self._ticker_lock = threading.Lock()
        submitter = ctx.submitter
        # Subscribe first, then read the snapshot: nothing that happens in between is lost.
        self._unsubscribe = submitter.subscribe(self._on_engine_event)
        snapshot = submitter.snapshot(report_id)
        report = ctx.vault.get_report(report_id)
        self.status = w.HTML()
        self.status.add_class("tk-upload-status")
        self.where = w.HTML()  # from where a stopped upload resumes, and the next try
        self.where.add_class("tk-upload-where")
        self.total_row = ProgressRow("Report", snapshot.total, css="tk-total-bar")
        self.file_rows = {
            f.attachment_id: ProgressRow(f.name, f.total, css="tk-file-bar") for f in snapshot.files
        }
        self.pause_button = w.Button(description="Pause", icon="pause")
        self.resume_button = w.Button(description="Resume", icon="play", button_style="success")
        self.delete_button = w.Button(description="Delete", icon="trash", button_style="danger")
        self.view_button = w.Button(
            description="View submitted report", icon="check", layout=w.Layout(width="auto")
        )
        self.back_button = w.Button(description="Back", icon="arrow-left")
        for widget, css in (
            (self.pause_button, "tk-pause"),
            (self.resume_button, "tk-resume"),
            (self.delete_button, "tk-delete"),
            (self.view_button, "tk-view"),
            (self.back_button, "tk-back"),
        ):
            widget.add_class(css)
        self.message = Message()
        self.confirm = Confirm(yes="Delete report")
        description = (
            f"<p style='white-space:pre-wrap'>{esc(report.description)}</p>"
            if report.description
            else ""
        )
        super().__init__(
            ctx,
            [
                w.HBox(
                    [
                        self.back_button,
                        w.HTML(f"<h3 style='margin:0 1em'>{esc(report.title)}</h3>"),
                    ],
                    layout=w.Layout(align_items="center"),
                ),
                w.HTML(description + layout_note(report)),
                self.status,
                self.where,
                self.total_row,
                w.HTML("<b>Files</b>"),
                *self.file_rows.values(),
                w.HBox(
                    [self.pause_button, self.resume_button, self.delete_button, self.view_button]
                ),
                self.confirm,
                self.message,
            ],
        )
        self.add_class("tk-upload-view")
        self.pause_button.on_click(self._on_pause_button_click)
        self.resume_button.on_click(self._on_resume_button_click)
        self.delete_button.on_click(self._on_delete_button_click)
        self.view_button.on_click(self._on_view_button_click)
        self.back_button.on_click(self._on_back_button_click)
        self.apply_snapshot(snapshot)
        self._ready = True
        if self._missed:
            self._throttle.post("state", self._refresh)

    # --- rendering -----------------------------------------------------------------------------

    def apply_snapshot(self, snapshot: ReportProgress) -> None:
        """Show the engine's view of the report (on open, and after each state change)."""
        for f in snapshot.files:
            row = self.file_rows.get(f.attachment_id)
            if row is not None:
                row.update(
                    f.bytes_sent,
                    0.0,
                    f.state,
                    f.bytes_confirmed,
                    verification=f.verification,
                    verify_bytes=f.verify_bytes,
                )
                self._file_error(f)
        self.total_row.update(snapshot.bytes_sent, snapshot.speed_bps, "", snapshot.bytes_confirmed)
        size_only = sum(1 for f in snapshot.files if f.state is FileState.SIZE_CHECKED)
        self.render_state(snapshot.state, snapshot.reason, size_only=size_only)
        self.render_where(snapshot)

    def render_where(self, snapshot: ReportProgress) -> None:
        """Where a stopped upload goes on from, and when (and why) it is tried again."""
        lines = []
        resumes = snapshot.resumes_from
        if resumes is not None and snapshot.state in STOPPED:
            lines.append(resume_text(resumes, snapshot.total))
        if snapshot.retry is not None:
            lines.append(retry_text(snapshot.retry))
        self.where.value = "".join(f"<div><small>{esc(line)}</small></div>" for line in lines)
        self._tick(snapshot.retry is not None)

    def _tick(self, on: bool) -> None:
        """While a retry is planned, show the snapshot again every second (the countdown)."""
        with self._ticker_lock:
            if self._ticker is not None:
                self._ticker.cancel()
                self._ticker = None
            if on and not self._disposed:
                self._ticker = threading.Timer(
                    1.0, lambda: self._throttle.post("state", self._refresh)
                )
                self._ticker.daemon = True
                self._ticker.start()

    def _file_error(self, f: FileProgress) -> None:
        if f.error and f.state is FileState.FAILED:
            row = self.file_rows[f.attachment_id]
            row.detail.value += f"<br><small style='color:#b3261e'>{esc(f.error)}</small>"

    @property
    def state(self) -> str:
        """The report state shown now."""
        return self._state

    def render_state(self, state: str, reason: str | None, *, size_only: int = 0) -> None:
        """Status line and which buttons make sense in ``state``; ``size_only`` files were
        checked by their size alone (no check mark then)."""
        self._state = state
        text = _STATE_TEXT.get(state, state)
        if reason and state in STOPPED:
            text = f"{text}: {reason}"
        if state == "submitted":
            text = "Submitted ✓ every file is on the server and verified."
            if size_only:
                text = (
                    f"Submitted: every file is on the server; {size_only} of them "
                    "size checked, content not verified (the server computes no checksum)."
                )
        self.status.value = f'<b class="tk-state-{esc(state)}">{esc(text)}</b>'
        active = state == Status.UPLOADING.value
        self.pause_button.layout.display = "" if active else "none"
        self.resume_button.layout.display = "" if state in RESUMABLE else "none"
        self.resume_button.description = "Submit" if state == "queued" else "Resume"
        self.view_button.layout.display = "" if state == "submitted" else "none"
        self.delete_button.layout.display = "none" if state == "submitted" else ""

    # --- engine events (worker threads) -------------------------------------------------------

    def _on_engine_event(self, event: ProgressEvent) -> None:
        if event.report_id != self.report_id:
            return
        if not self._ready:
            self._missed = True
            return
        post = self._throttle.post
        row = self.file_rows.get(event.attachment_id) if isinstance(event, FileEvent) else None
        if isinstance(event, FileEvent) and row is not None:
            post(
                ("file", event.attachment_id),
                lambda: row.update(
                    event.bytes_sent,
                    event.speed_bps,
                    event.file_state,
                    event.bytes_confirmed,
                    verify_bytes=event.verify_bytes,
                ),
            )
        if event.report_total:
            post(
                "total",
                lambda: self.total_row.update(
                    event.report_bytes_sent, event.speed_bps, "", event.report_bytes_confirmed
                ),
            )
        if event.state != self._state or isinstance(event, ReportEvent):
            post("state", self._refresh)

    def _refresh(self) -> None:
        with contextlib.suppress(TellakitError):  # the report was deleted meanwhile
            self.apply_snapshot(self.ctx.submitter.snapshot(self.report_id))

    def flush(self) -> None:
        """Apply pending progress now (tests; the throttle does it within 0.1 s anyway)."""
        self._throttle.flush()

    # --- buttons -----------------------------------------------------------------------------

    def _on_pause_button_click(self, _: w.Button) -> None:
        try:
            self.ctx.submitter.pause(self.report_id)
        except TellakitError as exc:
            self.message.error(exc)
        self._refresh()

    def _on_resume_button_click(self, _: w.Button) -> None:
        try:
            self.ctx.submitter.resume(self.report_id)
        except TellakitError as exc:
            self.message.error(exc)
        self._refresh()

    def _on_delete_button_click(self, _: w.Button) -> None:
        self.confirm.ask(
            "Delete this report? Its upload stops and it is deleted from this computer. Files "
            "already on the Nextcloud server, complete or partial, stay there.",
            self._delete,
        )

    def _delete(self) -> None:
        try:
            self.ctx.submitter.delete(self.report_id)
        except TellakitError as exc:
            self.message.error(exc)
            return
        self.ctx.show_reports("Outbox")

    def _on_view_button_click(self, _: w.Button) -> None:
        self.ctx.open_report(self.report_id)

    def _on_back_button_click(self, _: w.Button) -> None:
        self.ctx.show_reports("Submitted" if self._state == "submitted" else "Outbox")

    def dispose(self) -> None:
        """Stop following the engine; the upload goes on."""
        self._disposed = True
        self._tick(False)
        self._unsubscribe()
        self._throttle.close()
        super().dispose()

    _state = ""
    _disposed = False
