"""The reports view: tabs Drafts, Outbox and Submitted, paged rows, and "New report".

Rows are built one page at a time (``page_size``), and a tab is only read from the vault when
it is first shown, so a vault with a thousand reports opens on the Drafts tab quickly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import ipywidgets as w

from tellakit.engine import ProgressEvent
from tellakit.reports import OUTBOX, Report, Status
from tellakit.ui.bridge import Throttle
from tellakit.ui.common import Confirm, Menu, Message
from tellakit.ui.fmt import esc, human_date, human_size, percent
from tellakit.ui.screen import Screen

if TYPE_CHECKING:
    from tellakit.ui.context import AppContext

TABS: tuple[tuple[str, tuple[Status, ...]], ...] = (
    ("Drafts", (Status.DRAFT,)),
    ("Outbox", (Status.QUEUED, Status.UPLOADING, Status.PAUSED, Status.INTERRUPTED)),
    ("Submitted", (Status.SUBMITTED,)),
)
PAGE_SIZE = 25


def outbox_reason(report: Report) -> str:
    """Why a report sits in the outbox, in the words Tella uses."""
    if report.status is Status.QUEUED:
        return "Submit later"
    if report.status is Status.PAUSED:
        return "Paused"
    if report.status is Status.INTERRUPTED:
        return f"Interrupted: {report.reason}" if report.reason else "Interrupted"
    if report.status is Status.UPLOADING:
        return f"Uploading… {percent(report.bytes_sent, report.total_bytes):.0f}%"
    return ""


def _row_date(report: Report) -> str:
    if report.status is Status.SUBMITTED:
        return human_date(report.submitted_at or report.updated_at)
    return human_date(report.updated_at)


def _files_text(report: Report) -> str:
    count = report.file_count
    noun = "file" if count == 1 else "files"
    return f"{count} {noun} · {human_size(report.total_bytes)}"


class ReportRow(w.HBox):
    """One report: title, date, status, files; outbox rows say why and offer Resume."""

    def __init__(
        self,
        report: Report,
        *,
        on_open: Callable[[str], None],
        on_delete: Callable[[Report], None],
        on_resume: Callable[[str], None],
    ) -> None:
        self.report = report
        self.title_button = w.Button(
            description=report.title,
            tooltip=f"Open {report.title}",
            layout=w.Layout(width="18em"),
        )
        self.title_button.add_class("tk-row-title")
        self.status = w.HTML(layout=w.Layout(width="16em"))
        self.status.add_class("tk-row-status")
        # Only outbox rows can resume; other rows skip the widget (long lists stay cheap).
        self.resume_button: w.Button | None = None
        if report.in_outbox:
            self.resume_button = w.Button(
                description="Resume",
                icon="play",
                button_style="success",
                # min_width: a narrow notebook shrinks the row's flex items; the label must stay.
                layout=w.Layout(width="8em", min_width="8em"),
            )
            self.resume_button.add_class("tk-row-resume")
            self.resume_button.on_click(lambda _: on_resume(report.id))
        self.menu = Menu(
            [("Open", lambda: on_open(report.id)), ("Delete", lambda: on_delete(report))]
        )
        details = w.HTML(
            f"<span style='white-space:nowrap'>{esc(_row_date(report))} · "
            f"{esc(_files_text(report))}</span>",
            layout=w.Layout(width="20em"),
        )
        children: list[w.Widget] = [self.title_button, details, self.status]
        if self.resume_button is not None:
            children.append(self.resume_button)
        super().__init__([*children, self.menu], layout=w.Layout(align_items="center"))
        self.add_class("tk-report-row")
        self.render(report.status.value, outbox_reason(report) if report.in_outbox else "")
        self.title_button.on_click(lambda _: on_open(report.id))

    def render(self, state: str, text: str) -> None:
        """Show the report's state (and, in the outbox, why it is there)."""
        label = text or state.capitalize()
        self.status.value = f'<span class="tk-status-{esc(state)}">{esc(label)}</span>'
        if self.resume_button is not None:
            self.resume_button.layout.display = "none" if state == Status.UPLOADING.value else ""


class ReportList(w.VBox):
    """One tab's reports, a page at a time ("Show more" adds the next page)."""

    def __init__(
        self,
        statuses: Iterable[Status],
        make_row: Callable[[Report], ReportRow],
        load: Callable[[tuple[Status, ...]], list[Report]],
        *,
        page_size: int = PAGE_SIZE,
        empty_text: str = "Nothing here yet.",
    ) -> None:
        self.statuses = tuple(statuses)
        self._make_row = make_row
        self._load = load
        self.page_size = page_size
        self._empty_text = empty_text
        self.reports: list[Report] = []
        self.rows: list[ReportRow] = []
        self.loaded = False
        self.more_button = w.Button(description="Show more", icon="angle-down")
        self.more_button.add_class("tk-show-more")
        self.more_button.on_click(self._on_more_button_click)
        self._rows_box = w.VBox()
        self._footer = w.HTML()
        super().__init__([self._rows_box, self._footer])

    def refresh(self) -> None:
        """Read this tab's reports from the vault again and show the first page."""
        self.reports = self._load(self.statuses)
        self.loaded = True
        shown = max(self.page_size, len(self.rows)) if self.rows else self.page_size
        self.rows = [self._make_row(r) for r in self.reports[:shown]]
        self._render()

    def _render(self) -> None:
        self._rows_box.children = tuple(self.rows)
        left = len(self.reports) - len(self.rows)
        children: tuple[w.Widget, ...]
        if not self.reports:
            self._footer.value = f"<p><i>{esc(self._empty_text)}</i></p>"
            children = (self._rows_box, self._footer)
        elif left > 0:
            self._footer.value = f"<small>{len(self.rows)} of {len(self.reports)} shown</small>"
            children = (self._rows_box, self._footer, self.more_button)
        else:
            self._footer.value = ""
            children = (self._rows_box,)
        self.children = children

    def _on_more_button_click(self, _: w.Button) -> None:
        start = len(self.rows)
        self.rows += [self._make_row(r) for r in self.reports[start : start + self.page_size]]
        self._render()

    def row(self, report_id: str) -> ReportRow | None:
        """The shown row of a report, if any."""
        return next((r for r in self.rows if r.report.id == report_id), None)


class ReportsView(Screen):
    """Nextcloud › tabs Drafts / Outbox / Submitted, with "New report"."""

    title = "Reports"

    def __init__(self, ctx: AppContext, *, tab: str = "Drafts", page_size: int = PAGE_SIZE) -> None:
        self.message = Message()
        self.confirm = Confirm(yes="Delete")
        self.new_button = w.Button(description="New report", icon="plus", button_style="primary")
        self.new_button.add_class("tk-new-report")
        self.back_button = w.Button(description="Home", icon="home")
        self.back_button.add_class("tk-home")
        names = {
            "Drafts": "No drafts.",
            "Outbox": "The outbox is empty.",
            "Submitted": "Nothing submitted yet.",
        }
        self.lists = {
            name: ReportList(
                statuses, self._make_row, self._load, page_size=page_size, empty_text=names[name]
            )
            for name, statuses in TABS
        }
        self.tabs = w.Tab(children=list(self.lists.values()), titles=list(self.lists))
        self.tabs.add_class("tk-report-tabs")
        self._throttle = Throttle(ctx.update_rate)
        super().__init__(
            ctx,
            [
                w.HBox(
                    [
                        self.back_button,
                        w.HTML("<h3 style='margin:0 1em'>Nextcloud</h3>"),
                        self.new_button,
                    ],
                    layout=w.Layout(align_items="center"),
                ),
                self.confirm,
                self.message,
                self.tabs,
            ],
        )
        self.new_button.on_click(self._on_new_button_click)
        self.back_button.on_click(self._on_back_button_click)
        self.tabs.observe(self._on_tabs_selected_index, "selected_index")
        self.select(tab)
        self._unsubscribe = (
            ctx.submitter.subscribe(self._on_engine_event) if ctx.submitter is not None else None
        )

    # --- tabs -------------------------------------------------------------------------------

    def select(self, name: str) -> None:
        """Show a tab by name (its rows load on first display)."""
        index = list(self.lists).index(name)
        if self.tabs.selected_index == index:
            self._ensure_loaded(index)
        self.tabs.selected_index = index

    @property
    def current(self) -> ReportList:
        """The list shown now."""
        return list(self.lists.values())[self.tabs.selected_index or 0]

    def _on_tabs_selected_index(self, change: dict) -> None:
        if change["new"] is not None:
            self._ensure_loaded(change["new"])

    def _ensure_loaded(self, index: int) -> None:
        report_list = list(self.lists.values())[index]
        if not report_list.loaded:
            report_list.refresh()

    def _load(self, statuses: tuple[Status, ...]) -> list[Report]:
        return self.ctx.vault.list_reports(statuses)

    def _make_row(self, report: Report) -> ReportRow:
        return ReportRow(
            report,
            on_open=self.ctx.open_report,
            on_delete=self._ask_delete,
            on_resume=self._resume,
        )

    def refresh(self) -> None:
        """Reload every tab that was shown."""
        for report_list in self.lists.values():
            if report_list.loaded:
                report_list.refresh()

    # --- actions ---------------------------------------------------------------------------

    def _on_new_button_click(self, _: w.Button) -> None:
        self.ctx.new_report()

    def _on_back_button_click(self, _: w.Button) -> None:
        self.ctx.show_home()

    def _resume(self, report_id: str) -> None:
        try:
            self.ctx.submitter.resume(report_id)
        except Exception as exc:
            self.message.error(exc)
            return
        self.ctx.show_upload(report_id)

    def _ask_delete(self, report: Report) -> None:
        if report.status is Status.SUBMITTED:
            question = (
                f"Delete “{report.title}” from this computer? The copy on the Nextcloud "
                "server stays."
            )
        elif report.in_outbox:
            question = (
                f"Delete “{report.title}”? Its upload stops; files already on the "
                "server stay there."
            )
        else:
            question = f"Delete the draft “{report.title}”?"
        self.confirm.ask(question, lambda: self._delete(report.id))

    def _delete(self, report_id: str) -> None:
        try:
            self.ctx.submitter.delete(report_id)
        except Exception as exc:
            self.message.error(exc)
            return
        self.message.show("Report deleted.", "success")
        self.refresh()

    # --- live state from the engine ----------------------------------------------------------

    def _on_engine_event(self, event: ProgressEvent) -> None:
        outbox = self.lists["Outbox"]
        row = outbox.row(event.report_id)
        if row is not None and row.report.status.value == event.state:
            if event.state == Status.UPLOADING.value and event.report_total:
                text = f"Uploading… {percent(event.report_bytes_sent, event.report_total):.0f}%"
                self._throttle.post(("row", event.report_id), lambda: row.render(event.state, text))
            return
        if Status(event.state) in OUTBOX or event.state == Status.SUBMITTED.value:
            self._throttle.post("refresh", self.refresh)

    def dispose(self) -> None:
        """Stop following the engine; uploads go on."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._throttle.close()
        super().dispose()
