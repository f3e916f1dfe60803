"""New report / edit a draft: title, description, attachments; Save draft, Submit later, Submit.

The working copy and what saving and leaving do to the vault live in ``Draft`` (ui/draft.py,
no widgets); this view shows it, keeps it in step with the fields, and shows the vault's
message when it refuses (MissingTitle for a blank title, InvalidTransition for a report that
left the drafts). Files come from the browser through ``BrowserImport`` (streamed into the
vault, any size) or, by path, from the kernel's machine.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from tellakit.errors import TellakitError
from tellakit.reports import Report
from tellakit.ui.browser_import import BrowserImport
from tellakit.ui.common import Confirm, Message
from tellakit.ui.draft import Draft, DraftItem
from tellakit.ui.file_picker import ServerFilePicker
from tellakit.ui.fmt import esc, human_size
from tellakit.ui.previews import preview_for
from tellakit.ui.report_list import outbox_reason
from tellakit.ui.screen import Screen
from tellakit.ui.tasks import Task

if TYPE_CHECKING:
    from tellakit.ui.context import AppContext
    from tellakit.vault import VaultFile

log = logging.getLogger(__name__)

__all__ = ["AttachmentTile", "DraftItem", "ReportForm"]


class AttachmentTile(w.VBox):
    """A thumbnail or player (or just name and size), with Remove on editable reports."""

    def __init__(
        self,
        item: DraftItem,
        preview: w.Widget | None,
        on_remove: Callable[[DraftItem], None] | None,
    ) -> None:
        self.item = item
        self.remove_button = w.Button(
            description="Remove", icon="trash", layout=w.Layout(width="auto")
        )
        self.remove_button.add_class("tk-remove-attachment")
        label = w.HTML(
            f'<div class="tk-attachment-name" style="max-width:14em;overflow-wrap:anywhere">'
            f"{esc(item.name)}<br><small>{esc(human_size(item.size))}</small></div>"
        )
        children: list[w.Widget] = [preview] if preview is not None else []
        children.append(label)
        if on_remove is not None:
            children.append(self.remove_button)
            self.remove_button.on_click(lambda _: on_remove(item))
        super().__init__(
            children, layout=w.Layout(border="1px solid #ddd", padding="4px", margin="2px")
        )
        self.add_class("tk-attachment")


class ReportForm(Screen):
    """The "New report" screen; drafts reopen here, outbox reports open read-only."""

    title = "Report"

    def __init__(
        self, ctx: AppContext, report: Report | None = None, *, picker_start: Path | None = None
    ) -> None:
        self.draft = Draft(ctx.vault, report)
        self._picker_start = picker_start or Path.cwd()
        self._tiles: dict[str, AttachmentTile] = {}
        self._task: Task[Any] | None = None
        # A file encrypted by path finishes on its task's thread: attaching it and leaving the
        # form must not interleave (it would be attached to a form already gone).
        self._attach_lock = threading.Lock()
        self.title_input = w.Text(
            value=self.draft.title,
            description="Title",
            placeholder="Title (needed to save)",
            layout=w.Layout(width="40em"),
        )
        self.description = w.Textarea(
            value=self.draft.description,
            description="Description",
            layout=w.Layout(width="40em", height="7em"),
        )
        self.upload = BrowserImport(
            lambda: self.ctx.vault, on_imported=self._add, on_failed=self._import_failed
        )
        self.pick_button = w.ToggleButton(
            description="Attach a large file…",
            icon="folder-open",
            layout=w.Layout(width="auto", min_width="13em"),
        )
        self.picker: ServerFilePicker | None = None
        self._picker_box = w.VBox()
        self.attachments = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.save_button = w.Button(description="Save draft", icon="save")
        self.submit_later_button = w.Button(description="Submit later", icon="clock-o")
        self.submit_button = w.Button(
            description="Submit", icon="paper-plane", button_style="primary"
        )
        self.delete_button = w.Button(description="Delete", icon="trash", button_style="danger")
        self.back_button = w.Button(description="Back", icon="arrow-left")
        self.message = Message()
        self.confirm = Confirm(yes="Leave without saving", no="Stay")
        for widget, css in (
            (self.title_input, "tk-title"),
            (self.description, "tk-description"),
            (self.upload, "tk-upload"),
            (self.pick_button, "tk-pick"),
            (self.save_button, "tk-save"),
            (self.submit_later_button, "tk-submit-later"),
            (self.submit_button, "tk-submit"),
            (self.delete_button, "tk-delete"),
            (self.back_button, "tk-back"),
        ):
            widget.add_class(css)
        header = w.HTML(f"<h3>{'New report' if report is None else esc(report.title)}</h3>")
        body: list[w.Widget] = [
            w.HBox([self.back_button, header], layout=w.Layout(align_items="center")),
            self.title_input,
            self.description,
        ]
        if self.editable:
            hint = w.HTML(
                "<small><i>Add files</i>: from this browser, any size; each is encrypted into "
                "the vault as it arrives. <i>Attach a large file…</i>: a file already on the "
                "computer the kernel runs on.</small>"
            )
            files = w.HBox(
                [self.upload, self.pick_button], layout=w.Layout(align_items="flex-start")
            )
            body += [files, hint, self._picker_box]
        body += [self.attachments, self.confirm, self.message]
        body.append(
            w.HBox(
                [self.save_button, self.submit_later_button, self.submit_button, self.delete_button]
            )
        )
        super().__init__(ctx, body)
        self.add_class("tk-report-form")
        self._render_attachments()
        if self.editable:
            self.delete_button.layout.display = "none" if report is None else ""
        else:
            self._make_read_only()
        self.title_input.observe(self._on_title_input_value, "value")
        self.description.observe(self._on_description_value, "value")
        self.pick_button.observe(self._on_pick_button_value, "value")
        self.save_button.on_click(self._on_save_button_click)
        self.submit_later_button.on_click(self._on_submit_later_button_click)
        self.submit_button.on_click(self._on_submit_button_click)
        self.delete_button.on_click(self._on_delete_button_click)
        self.back_button.on_click(self._on_back_button_click)

    def _make_read_only(self) -> None:
        assert self.report is not None
        for widget in (
            self.title_input,
            self.description,
            self.save_button,
            self.submit_later_button,
            self.submit_button,
        ):
            widget.disabled = True
        self.delete_button.layout.display = "none"
        where = "Outbox" if self.report.in_outbox else self.report.status.value.capitalize()
        why = outbox_reason(self.report)
        self.message.show(
            f"This report is in the {where}{f' ({why})' if why else ''}: it can no longer be "
            "edited.",
            "warning",
        )

    # --- the working copy (Draft) -----------------------------------------------------------

    @property
    def report(self) -> Report | None:
        """The report as last saved (None for a new one not saved yet)."""
        return self.draft.report

    @property
    def editable(self) -> bool:
        """False for a report that left the drafts (the form is read-only)."""
        return self.draft.editable

    @property
    def items(self) -> list[DraftItem]:
        """The attachments shown, in order."""
        return self.draft.items

    @property
    def dirty(self) -> bool:
        """True when the form holds changes not saved to the vault."""
        return self.draft.dirty

    @property
    def importing(self) -> bool:
        """True while files chosen with "Add files" are still arriving from the browser."""
        return bool(self.upload.imports.transfers)

    def _refuse_while_importing(self) -> bool:
        if self.importing:
            self.message.show(
                "Files are still being added: wait until they are in the vault (or cancel "
                "them), then submit.",
                "warning",
            )
        return self.importing

    def _on_title_input_value(self, change: dict) -> None:
        self.draft.title = change["new"]

    def _on_description_value(self, change: dict) -> None:
        self.draft.description = change["new"]

    def _tile(self, item: DraftItem) -> AttachmentTile:
        tile = self._tiles.get(item.file_id)
        if tile is None:
            try:
                preview = preview_for(self.ctx.vault, item.file_id, item.mime, item.size)
            except TellakitError as exc:  # a damaged file still shows its name
                log.warning("no preview for an attachment: %s", type(exc).__name__)
                preview = None
            tile = AttachmentTile(item, preview, self._remove if self.editable else None)
            self._tiles[item.file_id] = tile
        return tile

    def _render_attachments(self) -> None:
        shown = {i.file_id for i in self.items}
        for file_id in [f for f in self._tiles if f not in shown]:
            self._tiles.pop(file_id).close()
        self.attachments.children = tuple(self._tile(i) for i in self.items)

    def _add(self, vfile: VaultFile) -> None:
        self.draft.add(vfile)
        self._render_attachments()

    def _remove(self, item: DraftItem) -> None:
        self.draft.remove(item.file_id)
        self._render_attachments()

    def _import_failed(self, name: str, message: str) -> None:
        self.message.error(message)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a large file being attached is in the vault (notebooks, tests)."""
        return self._task is None or self._task.wait(timeout)

    # --- attachments by path -------------------------------------------------------------

    def _on_pick_button_value(self, change: dict) -> None:
        if change["new"] and self.picker is None:
            self.picker = ServerFilePicker(self._picker_start, self.attach_path)
        self._picker_box.children = (self.picker,) if change["new"] and self.picker else ()

    def attach_path(self, path: Path) -> None:
        """Encrypt a file from the server's disk into the vault and attach it, in the background."""
        vault = self.ctx.vault
        self.message.show(f"Encrypting {path.name} into the vault…")

        def done(vfile: VaultFile) -> None:
            with self._attach_lock:
                if self._disposed:  # the form was left meanwhile: nothing will attach it
                    vault.delete_file(vfile.id)
                    return
                self._add(vfile)
            self.message.show(f"Attached {vfile.name} ({human_size(vfile.size)}).", "success")

        self._task = Task(
            lambda: vault.import_path(path),
            on_done=done,
            on_error=self.message.error,
            name="tellakit-import",
        )
        self.pick_button.value = False

    # --- saving and submitting ----------------------------------------------------------------

    def _save(self) -> Report | None:
        """Hand the working copy to the vault; on refusal show why and return None."""
        try:
            return self.draft.save()
        except TellakitError as exc:
            self.message.error(exc)
            return None

    def _on_save_button_click(self, _: w.Button) -> None:
        if self._save() is not None:
            self._render_attachments()
            self.message.show("Draft saved", "success")

    def _on_submit_later_button_click(self, _: w.Button) -> None:
        if self._refuse_while_importing():
            return
        report = self._save()
        if report is None:
            return
        try:
            self.ctx.submitter.submit_later(report.id)
        except TellakitError as exc:
            self.message.error(exc)
            return
        self.ctx.show_reports("Outbox")

    def _on_submit_button_click(self, _: w.Button) -> None:
        if self._refuse_while_importing():
            return
        report = self._save()
        if report is None:
            return
        try:
            self.ctx.submitter.submit(report.id)
        except TellakitError as exc:
            self.message.error(exc)
            return
        self.ctx.show_upload(report.id)

    def _on_delete_button_click(self, _: w.Button) -> None:
        report = self.report
        if report is None:
            return

        def delete() -> None:
            self.ctx.submitter.delete(report.id)
            self.draft.deleted()
            self.ctx.show_reports()

        self.confirm.yes_button.description = "Delete"
        self.confirm.no_button.description = "Cancel"
        self.confirm.ask(f"Delete the draft “{report.title}”?", delete)

    # --- leaving ---------------------------------------------------------------------------------

    def _on_back_button_click(self, _: w.Button) -> None:
        self.ctx.show_reports("Drafts" if self.report is None or self.editable else "Outbox")

    _disposed = False

    def dispose(self) -> None:
        """Empty the text fields (their last state must not hold the report), drop files still
        arriving from the browser, and close the widgets. A large file still being encrypted
        by path is dropped when it is done."""
        with self._attach_lock:
            self._disposed = True
            if self.editable:  # files imported here and not in the saved report go
                self.draft.discard()
        self.title_input.value = ""
        self.description.value = ""
        self.upload.close()  # also when read-only, where it is not among the children
        super().dispose()

    def request_leave(self, proceed: Callable[[], None]) -> None:
        """Ask before dropping unsaved changes (Tella asks too)."""
        if not self.editable or not (self.dirty or self.importing):
            proceed()
            return

        def leave() -> None:
            self.draft.discard()
            proceed()

        self.confirm.yes_button.description = "Leave without saving"
        self.confirm.no_button.description = "Stay"
        dropped = " Files still being added are dropped." if self.importing else ""
        self.confirm.ask(
            f"Leave without saving? Your changes to this report will be lost.{dropped}", leave
        )
