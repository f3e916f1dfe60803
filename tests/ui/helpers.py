"""Helpers for widget tests: build an App with test sizes and drive it as a person would."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tellakit.engine import Tuning
from tellakit.ui import App

MiB = 1024 * 1024
PASSPHRASE = "tangerine orbit velvet quarry"
#: Files from 1 MiB go chunked, in 5 MiB chunks (the smallest chunked upload v2 allows, which
#: the development server enforces); smaller ones in one PUT.
SMALL = Tuning(
    single_put_limit=1 * MiB, initial_chunk=5 * MiB, min_chunk=5 * MiB, max_chunk=5 * MiB
)


def make_app(vault_dir: Path, server: Any, **kwargs: Any) -> App:
    """An App with test sizes (cheap scrypt, small chunks)."""
    kwargs.setdefault("work_factor", 10)
    kwargs.setdefault("submitter_options", {"tuning": SMALL})
    return App(vault_dir, server, **kwargs)


def close_app(app: App) -> None:
    """Lock the app's vault (stops its engine) if it is open."""
    if app.vault is not None:
        app.lock()


def unlock(app: App, passphrase: str = PASSPHRASE) -> None:
    """Type the passphrase (twice on creation) and press the button."""
    screen = app.screen
    screen.passphrase.value = passphrase
    if screen.creating:
        screen.confirmation.value = passphrase
    screen.unlock_button.click()


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    """Poll ``predicate`` (for state reached through worker threads)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.02)


def browser_sends(
    imports: Any, name: str, data: bytes, mime: str = "", *, slice_size: int = 64 * 1024
) -> str:
    """The messages browser_import.js sends for one chosen file (begin, slices, end), handled
    by the kernel's side as they would arrive; returns the transfer id."""
    tid = f"t{time.monotonic_ns()}"
    imports.handle({"kind": "begin", "id": tid, "name": name, "size": len(data), "mime": mime})
    for seq, offset in enumerate(range(0, len(data), slice_size)):
        piece = memoryview(data)[offset : offset + slice_size]
        imports.handle({"kind": "slice", "id": tid, "seq": seq, "offset": offset}, [piece])
    imports.handle({"kind": "end", "id": tid, "size": len(data)})
    return tid


def upload(form: Any, name: str, data: bytes, mime: str = "") -> None:
    """What the browser sends when a person picks a file with "Add files"."""
    browser_sends(form.upload.imports, name, data, mime)


def png_bytes(size: int = 32) -> bytes:
    """A small real PNG (Pillow is present in the test environment)."""
    image_mod = pytest.importorskip("PIL.Image")
    out = io.BytesIO()
    image_mod.new("RGB", (size, size), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def settle(app: App, report_id: str | None = None, timeout: float = 30.0) -> None:
    """Wait for the engine to go idle, then apply the view's pending progress updates."""
    assert app.submitter.wait(report_id, timeout=timeout)
    flush = getattr(app.screen, "flush", None)
    if flush is not None:
        flush()


@dataclass
class Context:
    """A stand-in ``AppContext``: a vault, maybe a submitter, and the navigation asked for.

    Screens built on it run without an App; ``visits`` records where they asked to go.
    """

    vault: Any
    submitter: Any = None
    update_rate: float = 0.0
    visits: list[tuple[str, ...]] = field(default_factory=list)

    def show_home(self) -> None:
        self.visits.append(("home",))

    def show_connection_form(self) -> None:
        self.visits.append(("connection",))

    def show_reports(self, tab: str = "Drafts") -> None:
        self.visits.append(("reports", tab))

    def new_report(self) -> None:
        self.visits.append(("new",))

    def open_report(self, report_id: str) -> None:
        self.visits.append(("open", report_id))

    def show_upload(self, report_id: str) -> None:
        self.visits.append(("upload", report_id))

    def unlocked(self, vault: Any) -> None:
        self.visits.append(("unlocked",))

    def connected(self) -> None:
        self.visits.append(("connected",))

    def quick_delete(self) -> None:
        self.visits.append(("quick_delete",))
