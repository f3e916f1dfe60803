"""A submitted report, read only: where each file is on the server and how it was verified."""

from __future__ import annotations

from typing import TYPE_CHECKING

import ipywidgets as w

from tellakit.reports import FileState, Report, Verification
from tellakit.ui.common import Confirm, Message
from tellakit.ui.fmt import esc, human_date, human_size
from tellakit.ui.recipients import layout_note
from tellakit.ui.screen import Screen

if TYPE_CHECKING:
    from tellakit.ui.context import AppContext


def verified_text(state: FileState, verification: Verification | None, when: str) -> str:
    """The Verified cell: a check mark and how, only when the content was verified."""
    if state is FileState.VERIFIED:
        how = f" {verification.label}" if verification is not None else ""
        return f"✓{how} · {when}"
    if state is FileState.SIZE_CHECKED:
        return f"{Verification.SIZE_ONLY.label} · {when}"
    return state.value


def files_table(report: Report) -> str:
    """HTML table: name, size, server path, the server's checksum and how and when each file
    was verified ("size checked, content not verified" without a check mark)."""
    rows = []
    for a in sorted(report.attachments, key=lambda a: a.position):
        check = esc(a.checksum) if a.checksum else "none (size checked only)"
        if a.checksum and a.sealed_sha256 is not None:
            check += " <small>(of the sealed file)</small>"
        verified = esc(verified_text(a.state, a.verification, human_date(a.verified_at)))
        rows.append(
            f"<tr><td>{esc(a.name)}</td>"
            f"<td style='white-space:nowrap'>{esc(human_size(a.size))}</td>"
            f"<td><code>{esc(a.remote_path or '')}</code></td>"
            f"<td><code style='overflow-wrap:anywhere'>{check}</code></td><td>{verified}</td></tr>"
        )
    head = (
        "<tr><th>File</th><th>Size</th><th>On the server</th><th>Server's checksum</th>"
        "<th>Verified</th></tr>"
    )
    return (
        f"<table class='tk-submitted-files' style='border-collapse:collapse' border='1' "
        f"cellpadding='4'>{head}{''.join(rows)}</table>"
    )


class SubmittedView(Screen):
    """Submitted tab › a report."""

    title = "Submitted report"

    def __init__(self, ctx: AppContext, report: Report) -> None:
        self.report = report
        self.back_button = w.Button(description="Back", icon="arrow-left")
        self.back_button.add_class("tk-back")
        self.delete_button = w.Button(
            description="Delete from this computer",
            icon="trash",
            button_style="danger",
            layout=w.Layout(width="auto"),
        )
        self.delete_button.add_class("tk-delete")
        self.confirm = Confirm(yes="Delete")
        self.message = Message()
        info = (
            f"<p>Submitted {esc(human_date(report.submitted_at))} to "
            f"<code>{esc(report.remote_folder or '')}</code></p>"
            f"<p style='white-space:pre-wrap'>{esc(report.description)}</p>"
            f"{layout_note(report)}"
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
                w.HTML(info),
                w.HTML(files_table(report)),
                w.HBox([self.delete_button]),
                self.confirm,
                self.message,
            ],
        )
        self.add_class("tk-submitted-view")
        self.back_button.on_click(lambda _: ctx.show_reports("Submitted"))
        self.delete_button.on_click(self._on_delete_button_click)

    def _on_delete_button_click(self, _: w.Button) -> None:
        self.confirm.ask(
            f"Delete “{self.report.title}” from this computer? The copy on the Nextcloud server "
            "stays.",
            self._delete,
        )

    def _delete(self) -> None:
        self.ctx.submitter.delete(self.report.id)
        self.ctx.show_reports("Submitted")
