"""The "Add files" button: files chosen in the browser stream into the vault, any size.

An anywidget (a plain ES module the Jupyter front ends load at run time, no build step) whose
browser half is ``browser_import.js`` and whose kernel half is ``StreamingImports``. File bytes
travel only as buffers of custom widget messages, never as widget state, so no part of a file
can be saved into a notebook, and no message comes near Jupyter's 10 MiB websocket limit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets as t

from tellakit.ui.streaming_import import (
    SLICE_SIZE,
    STALL_SECONDS,
    WINDOW,
    ImportTarget,
    Message,
    StreamingImports,
)

if TYPE_CHECKING:
    from tellakit.vault import VaultFile

__all__ = ["BrowserImport"]

_HERE = Path(__file__).parent


class BrowserImport(anywidget.AnyWidget):
    """Choose files in the browser; each becomes a vault file, with a bar and Cancel per file.

    ``target()`` gives the vault; ``on_imported(vfile)`` / ``on_failed(name, message)`` tell the
    form. ``imports`` is the kernel's side, which tests drive with the browser's messages.
    """

    _esm = _HERE / "browser_import.js"
    _css = """
    .tk-browser-import { display: flex; flex-direction: column; gap: 2px; }
    .tk-browser-import .tk-add-files { align-self: flex-start; width: auto; }
    .tk-browser-import .tk-import-row { display: flex; gap: 8px; align-items: center; }
    .tk-browser-import .tk-import-row button { flex: none; width: auto; }
    .tk-browser-import .tk-import-name { flex: none; width: 12em; overflow-wrap: anywhere; }
    .tk-browser-import .tk-import-bar { flex: none; width: 10em; }
    .tk-browser-import .tk-import-detail { flex: 1 1 auto; min-width: 12em; }
    .tk-browser-import .tk-import-failed .tk-import-detail,
    .tk-browser-import .tk-import-cancelled .tk-import-detail { color: #b3261e; }
    .tk-browser-import .tk-import-done .tk-import-detail { color: #1b7f3b; }
    """
    description = t.Unicode("Add files").tag(sync=True)
    disabled = t.Bool(False).tag(sync=True)
    slice_size = t.Int(SLICE_SIZE).tag(sync=True)
    window = t.Int(WINDOW).tag(sync=True)
    ack_timeout_ms = t.Int(120_000).tag(sync=True)
    #: What the browser says when the kernel cannot (``{name}``, ``{detail}`` filled in there).
    texts = t.Dict(
        {
            "silent": "The kernel stopped answering: {name} was not imported. Check that the "
            "notebook's kernel is running, then add the file again.",
            "unreadable": "{name} could not be read by the browser ({detail}); it was not "
            "imported.",
        }
    ).tag(sync=True)

    def __init__(
        self,
        target: Callable[[], ImportTarget],
        *,
        on_imported: Callable[[VaultFile], None],
        on_failed: Callable[[str, str], None],
        stall_seconds: float = STALL_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.imports = StreamingImports(
            target,
            send=self._send_to_browser,
            on_imported=on_imported,
            on_failed=on_failed,
            stall_seconds=stall_seconds,
        )
        self.on_msg(self._on_browser_msg)

    def _on_browser_msg(
        self, _: object, content: Message, buffers: Sequence[memoryview] | None
    ) -> None:
        self.imports.handle(content, buffers or ())

    def _send_to_browser(self, content: Message) -> None:
        if self.comm is not None:  # closed: nobody listens any more
            self.send(content)

    def close(self) -> None:
        """Drop every file still arriving (nothing half-imported stays), then close."""
        self.imports.abort_all()
        super().close()
