"""The working copy of a report being written, without widgets.

``Draft`` holds what the report form shows (title, description, the attached vault files) and
decides what saving, leaving and deleting do to the vault: files imported while the form was
open and not kept by the saved report are deleted from the vault, so an abandoned attachment
never lingers there. The vault has the last word on what may be saved (MissingTitle for a blank
title, InvalidTransition once the report left the drafts); its errors propagate to the caller.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from tellakit.errors import TellakitError
from tellakit.reports import Report

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tellakit.vault import VaultFile

log = logging.getLogger(__name__)

__all__ = ["Draft", "DraftItem", "DraftStore"]


@dataclass
class DraftItem:
    """One attachment in the working copy (``attachment_id`` once saved)."""

    file_id: str
    name: str
    mime: str
    size: int
    attachment_id: str | None = None


class DraftStore(Protocol):
    """What a draft needs of the vault."""

    def create_report(self, title: str, description: str, file_ids: Sequence[str]) -> Report: ...
    def save_report(self, report: Report) -> Report: ...
    def get_report(self, report_id: str) -> Report: ...
    def get_file(self, file_id: str) -> VaultFile: ...
    def delete_file(self, file_id: str) -> None: ...


State = tuple[str, str, tuple[str, ...]]


class Draft:
    """A new report (``report=None``) or an existing one being edited."""

    def __init__(self, store: DraftStore, report: Report | None = None) -> None:
        self._store = store
        self.report = report
        self.editable = report is None or report.editable
        self.title = report.title if report else ""
        self.description = report.description if report else ""
        self.items: list[DraftItem] = (
            [
                DraftItem(a.file_id, a.name, a.mime, a.size, a.id)
                for a in sorted(report.attachments, key=lambda a: a.position)
            ]
            if report is not None
            else []
        )
        self._imported: set[str] = set()  # vault files imported while this draft was open
        self._saved = self.state()

    def state(self) -> State:
        """Title, description and the attached files, in order."""
        return (self.title, self.description, tuple(i.file_id for i in self.items))

    @property
    def dirty(self) -> bool:
        """True when the working copy holds changes not saved to the vault."""
        return self.state() != self._saved

    # --- attachments ------------------------------------------------------------------------

    def add(self, vfile: VaultFile) -> DraftItem:
        """Attach a file just imported into the vault for this draft."""
        self._imported.add(vfile.id)
        item = DraftItem(vfile.id, vfile.name, vfile.mime, vfile.size)
        self.items.append(item)
        return item

    def remove(self, file_id: str) -> None:
        """Detach a file (an unsaved import is deleted from the vault on the next save)."""
        self.items = [i for i in self.items if i.file_id != file_id]

    # --- saving and leaving -------------------------------------------------------------------

    def save(self) -> Report:
        """Hand the working copy to the vault; its refusal (a TellakitError) propagates and the
        draft keeps the report as the vault still has it."""
        title, description, file_ids = self.state()
        try:
            if self.report is None:
                saved = self._store.create_report(title, description, file_ids)
            else:
                report = self.report
                report.title, report.description = title, description
                kept = {i.attachment_id for i in self.items if i.attachment_id}
                report.attachments = [a for a in report.attachments if a.id in kept]
                for item in self.items:
                    if item.attachment_id is None:
                        report.attach(self._store.get_file(item.file_id))
                saved = self._store.save_report(report)
        except TellakitError:
            if self.report is not None:  # our copy was changed in place: read it back
                self.report = self._store.get_report(self.report.id)
            raise
        self.report = saved
        by_file = {a.file_id: a.id for a in saved.attachments}
        for item in self.items:
            item.attachment_id = by_file.get(item.file_id)
        self.forget_unused_imports()
        self._saved = self.state()
        return saved

    def discard(self) -> None:
        """Leave without saving: imports the saved report does not use are deleted."""
        self.forget_unused_imports(set(self._saved[2]))

    def deleted(self) -> None:
        """The report was deleted: every import of this draft goes too."""
        self.forget_unused_imports(set())
        self._saved = self.state()

    def forget_unused_imports(self, used: set[str] | None = None) -> None:
        """Delete files imported here that ``used`` (default: the working copy) leaves out."""
        used = {i.file_id for i in self.items} if used is None else used
        for file_id in sorted(self._imported - used):
            try:
                self._store.delete_file(file_id)
            except TellakitError as exc:
                log.warning("could not delete an unused import: %s", type(exc).__name__)
        self._imported &= used
