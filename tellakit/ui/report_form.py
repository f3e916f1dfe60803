"""New report / edit a draft: title, description, attachments; Save draft, Submit later, Submit.

The view keeps a working copy (title, description, the list of vault files) and hands it to
the vault when saving; the vault decides what is allowed (MissingTitle for a blank title,
InvalidTransition for a report that left the drafts) and the form shows its message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from tellakit.errors import TellakitError
from tellakit.reports import Report
from tellakit.ui.common import Confirm, Message
from tellakit.ui.file_picker import ServerFilePicker
from tellakit.ui.fmt import esc, human_size
from tellakit.ui.previews import preview_for
from tellakit.ui.report_list import outbox_reason
from tellakit.ui.screen import Screen
from tellakit.ui.tasks import Task

if TYPE_CHECKING:
    from tellakit.ui.app import App
    from tellakit.vault import VaultFile

log = logging.getLogger(__name__)


@dataclass
class DraftItem:
    """One attachment in the form's working copy (``attachment_id`` once saved)."""

    file_id: str
    name: str
    mime: str
    size: int
    attachment_id: str | None = None


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
        self, app: App, report: Report | None = None, *, picker_start: Path | None = None
    ) -> None:
        self.report = report
        self.editable = report is None or report.editable
        self._picker_start = picker_start or Path.cwd()
        self._imported: set[str] = set()  # vault files imported while this form was open
        self._tiles: dict[str, AttachmentTile] = {}
        self._task: Task[Any] | None = None
        self.items: list[DraftItem] = (
            [
                DraftItem(a.file_id, a.name, a.mime, a.size, a.id)
                for a in sorted(report.attachments, key=lambda a: a.position)
            ]
            if report is not None
            else []
        )
        self.title_input = w.Text(
            value=report.title if report else "",
            description="Title",
            placeholder="Title (needed to save)",
            layout=w.Layout(width="40em"),
        )
        self.description = w.Textarea(
            value=report.description if report else "",
            description="Description",
            layout=w.Layout(width="40em", height="7em"),
        )
        self.upload = w.FileUpload(multiple=True, description="Add files")
        self.pick_button = w.ToggleButton(
            description="Attach a large file…", icon="folder-open", layout=w.Layout(width="auto")
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
            # Jupyter's websocket takes messages up to 10 MiB: bigger files go by path.
            hint = w.HTML(
                "<small>Add files: from your browser, up to about 10 MB in all. Larger "
                "recordings: <i>Attach a large file…</i> from the computer JupyterLab runs "
                "on.</small>"
            )
            body += [w.HBox([self.upload, self.pick_button]), hint, self._picker_box]
        body += [self.attachments, self.confirm, self.message]
        body.append(
            w.HBox(
                [self.save_button, self.submit_later_button, self.submit_button, self.delete_button]
            )
        )
        super().__init__(app, body)
        self.add_class("tk-report-form")
        self._saved = self._state()
        self._render_attachments()
        if self.editable:
            self.delete_button.layout.display = "none" if report is None else ""
        else:
            self._make_read_only()
        self.upload.observe(self._on_upload_value, "value")
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

    # --- working copy -----------------------------------------------------------------------

    def _state(self) -> tuple[str, str, tuple[str, ...]]:
        return (
            self.title_input.value,
            self.description.value,
            tuple(i.file_id for i in self.items),
        )

    @property
    def dirty(self) -> bool:
        """True when the form holds changes not saved to the vault."""
        return self._state() != self._saved

    def _tile(self, item: DraftItem) -> AttachmentTile:
        tile = self._tiles.get(item.file_id)
        if tile is None:
            try:
                preview = preview_for(self._app.vault, item.file_id, item.mime, item.size)
            except TellakitError as exc:  # a damaged file still shows its name
                log.warning("no preview for an attachment: %s", type(exc).__name__)
                preview = None
            tile = AttachmentTile(item, preview, self._remove if self.editable else None)
            self._tiles[item.file_id] = tile
        return tile

    def _render_attachments(self) -> None:
        self.attachments.children = tuple(self._tile(i) for i in self.items)

    def _add(self, vfile: VaultFile) -> None:
        self._imported.add(vfile.id)
        self.items.append(DraftItem(vfile.id, vfile.name, vfile.mime, vfile.size))
        self._render_attachments()

    def _remove(self, item: DraftItem) -> None:
        self.items = [i for i in self.items if i is not item]
        self._render_attachments()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a large file being attached is in the vault (notebooks, tests)."""
        return self._task is None or self._task.wait(timeout)

    # --- attachments --------------------------------------------------------------------------

    def _on_upload_value(self, change: dict) -> None:
        uploads = change["new"]
        if not uploads:
            return
        try:
            for upload in uploads:
                vfile = self._app.vault.import_fileobj(
                    upload["content"], upload["name"], upload.get("type") or None
                )
                self._add(vfile)
        except TellakitError as exc:
            self.message.error(exc)
        finally:
            # Drop the plaintext from the widget (and from any saved widget state).
            self.upload.value = ()

    def _on_pick_button_value(self, change: dict) -> None:
        if change["new"] and self.picker is None:
            self.picker = ServerFilePicker(self._picker_start, self.attach_path)
        self._picker_box.children = (self.picker,) if change["new"] and self.picker else ()

    def attach_path(self, path: Path) -> None:
        """Encrypt a file from the server's disk into the vault and attach it, in the background."""
        vault = self._app.vault
        self.message.show(f"Encrypting {path.name} into the vault…")

        def done(vfile: VaultFile) -> None:
            if self._disposed:  # the form was left meanwhile: nothing will ever attach it
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
        vault = self._app.vault
        title, description, file_ids = self._state()
        try:
            if self.report is None:
                saved = vault.create_report(title, description, file_ids)
            else:
                report = self.report
                report.title, report.description = title, description
                kept = {i.attachment_id for i in self.items if i.attachment_id}
                report.attachments = [a for a in report.attachments if a.id in kept]
                for item in self.items:
                    if item.attachment_id is None:
                        report.attach(vault.get_file(item.file_id))
                saved = vault.save_report(report)
        except TellakitError as exc:
            self.message.error(exc)
            if self.report is not None:  # our copy was changed in place: read it back
                self.report = vault.get_report(self.report.id)
            return None
        self.report = saved
        by_file = {a.file_id: a.id for a in saved.attachments}
        for item in self.items:
            item.attachment_id = by_file.get(item.file_id)
        self._forget_unused_imports()
        self._saved = self._state()
        return saved

    def _forget_unused_imports(self, used: set[str] | None = None) -> None:
        """Delete files imported here that the saved report does not use (never saved)."""
        used = {i.file_id for i in self.items} if used is None else used
        for file_id in list(self._imported - used):
            try:
                self._app.vault.delete_file(file_id)
            except TellakitError as exc:
                log.warning("could not delete an unused import: %s", type(exc).__name__)
            self._imported.discard(file_id)
            self._tiles.pop(file_id, None)
        self._imported &= used

    def _on_save_button_click(self, _: w.Button) -> None:
        if self._save() is not None:
            self.message.show("Draft saved", "success")

    def _on_submit_later_button_click(self, _: w.Button) -> None:
        report = self._save()
        if report is None:
            return
        try:
            self._app.submitter.submit_later(report.id)
        except TellakitError as exc:
            self.message.error(exc)
            return
        self._app.show_reports("Outbox")

    def _on_submit_button_click(self, _: w.Button) -> None:
        report = self._save()
        if report is None:
            return
        try:
            self._app.submitter.submit(report.id)
        except TellakitError as exc:
            self.message.error(exc)
            return
        self._app.show_upload(report.id)

    def _on_delete_button_click(self, _: w.Button) -> None:
        report = self.report
        if report is None:
            return

        def delete() -> None:
            self._app.submitter.delete(report.id)
            self._forget_unused_imports(set())
            self._saved = self._state()
            self._app.show_reports()

        self.confirm.yes_button.description = "Delete"
        self.confirm.no_button.description = "Cancel"
        self.confirm.ask(f"Delete the draft “{report.title}”?", delete)

    # --- leaving ---------------------------------------------------------------------------------

    def _on_back_button_click(self, _: w.Button) -> None:
        self._app.show_reports("Drafts" if self.report is None or self.editable else "Outbox")

    _disposed = False

    def dispose(self) -> None:
        """Close the widgets; a large file still being encrypted is dropped when it is done."""
        self._disposed = True
        super().dispose()

    def request_leave(self, proceed: Callable[[], None]) -> None:
        """Ask before dropping unsaved changes (Tella asks too)."""
        if not self.editable or not self.dirty:
            proceed()
            return

        def leave() -> None:
            self._forget_unused_imports(set(self._saved[2]))
            proceed()

        self.confirm.yes_button.description = "Leave without saving"
        self.confirm.no_button.description = "Stay"
        self.confirm.ask("Leave without saving? Your changes to this report will be lost.", leave)
