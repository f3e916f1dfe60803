"""A small picker over the Jupyter server's files, for attachments too large for FileUpload.

A browser upload travels to the kernel in one message, so large recordings are attached by
path: the kernel reads (and encrypts) them directly from the disk they are on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import ipywidgets as w

from tellakit.ui.fmt import esc, human_size

_UP = ".."


class ServerFilePicker(w.VBox):
    """Browse folders from ``start``; "Attach" calls ``on_pick(path)`` for the chosen file."""

    def __init__(self, start: Path, on_pick: Callable[[Path], None]) -> None:
        self.folder = start.resolve()
        self._on_pick = on_pick
        self.entries = w.Select(options=[], rows=8, layout=w.Layout(width="32em"))
        self.entries.add_class("tk-picker-entries")
        self.attach_button = w.Button(description="Attach", icon="paperclip", disabled=True)
        self.attach_button.add_class("tk-picker-attach")
        self.location = w.HTML()
        super().__init__([self.location, self.entries, self.attach_button])
        self.add_class("tk-file-picker")
        self.entries.observe(self._on_entries_value, "value")
        self.attach_button.on_click(self._on_attach_button_click)
        self.show(self.folder)

    def show(self, folder: Path) -> None:
        """List ``folder``: sub-folders first (ending in /), then files with sizes."""
        self.folder = folder.resolve()
        options: list[tuple[str, str]] = []
        if self.folder.parent != self.folder:
            options.append(("⬑ ..", _UP))
        try:
            children = sorted(self.folder.iterdir(), key=lambda p: (not p.is_dir(), p.name.lower()))
        except OSError as exc:
            self.location.value = f"<small>{esc(exc)}</small>"
            children = []
        else:
            self.location.value = f"<small>Folder: <code>{esc(self.folder)}</code></small>"
        for child in children:
            if child.name.startswith("."):
                continue
            try:
                label = (
                    f"{child.name}/"
                    if child.is_dir()
                    else (f"{child.name}  ({human_size(child.stat().st_size)})")
                )
            except OSError:
                continue
            options.append((label, child.name))
        self.entries.value = None
        self.entries.options = options
        self.attach_button.disabled = True

    def select(self, name: str) -> None:
        """Choose an entry by name (a folder opens, a file becomes the one to attach)."""
        self.entries.value = name

    def _on_entries_value(self, change: dict) -> None:
        name = change["new"]
        if name is None:
            return
        target = self.folder.parent if name == _UP else self.folder / name
        if target.is_dir():
            self.show(target)
        else:
            self.attach_button.disabled = False

    def _on_attach_button_click(self, _: w.Button) -> None:
        if self.entries.value not in (None, _UP):
            self._on_pick(self.folder / self.entries.value)
