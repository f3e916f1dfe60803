"""The kernel's side of the browser import, driven with the messages browser_import.js sends:
slices become one vault file; a refused, cut, cancelled or abandoned file leaves nothing."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tellakit.ui.browser_import import BrowserImport
from tellakit.ui.streaming_import import StreamingImports
from tellakit.vault import Vault, VaultFile, create_vault

from .helpers import PASSPHRASE, browser_sends, wait_until


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    with create_vault(tmp_path / "vault", PASSPHRASE, work_factor=10) as v:
        yield v


class Browser:
    """The other end: what the kernel answered, what reached the form."""

    def __init__(self) -> None:
        self.answers: list[dict[str, Any]] = []
        self.imported: list[VaultFile] = []
        self.failed: list[tuple[str, str]] = []
        self.now = 0.0

    def kinds(self, tid: str) -> list[str]:
        return [a["kind"] for a in self.answers if a["id"] == tid]

    def final(self, tid: str) -> dict[str, Any]:
        return [a for a in self.answers if a["id"] == tid][-1]


@pytest.fixture
def browser() -> Browser:
    return Browser()


def imports_for(vault: Vault, browser: Browser, **kwargs: Any) -> StreamingImports:
    return StreamingImports(
        lambda: vault,
        send=browser.answers.append,
        on_imported=browser.imported.append,
        on_failed=lambda name, message: browser.failed.append((name, message)),
        clock=lambda: browser.now,
        **kwargs,
    )


def vault_leftovers(vault: Vault) -> list[Path]:
    return [p for p in (vault.path / "blobs").rglob("*") if p.is_file()]


def test_slices_become_one_vault_file_each_acknowledged_in_order(
    vault: Vault, browser: Browser
) -> None:
    data = os.urandom(300_000)
    imports = imports_for(vault, browser)
    tid = browser_sends(imports, "clip.mp4", data, "video/mp4", slice_size=65536)
    assert browser.kinds(tid) == ["ready", *["ack"] * 5, "done"]
    acks = [a for a in browser.answers if a["kind"] == "ack"]
    assert [a["seq"] for a in acks] == [0, 1, 2, 3, 4]
    assert [a["received"] for a in acks] == [65536, 131072, 196608, 262144, 300_000]
    [vfile] = browser.imported
    assert (vfile.name, vfile.mime, vfile.size) == ("clip.mp4", "video/mp4", len(data))
    assert vfile.sha256 == hashlib.sha256(data).hexdigest()
    assert browser.final(tid)["file_id"] == vfile.id and imports.transfers == []
    with vault.open_file(vfile.id) as reader:
        assert reader.read() == data


def test_an_empty_file_is_imported_too(vault: Vault, browser: Browser) -> None:
    tid = browser_sends(imports_for(vault, browser), "empty.txt", b"")
    assert browser.kinds(tid) == ["ready", "done"] and browser.imported[0].size == 0


def test_a_file_is_refused_when_the_vault_is_locked(vault: Vault, browser: Browser) -> None:
    imports = imports_for(vault, browser)
    vault.lock()
    imports.handle({"kind": "begin", "id": "t1", "name": "a.txt", "size": 3, "mime": ""})
    assert browser.kinds("t1") == ["failed"]
    assert browser.failed == [("a.txt", "The vault is locked; open it again with the passphrase.")]


def begin_and_send_half(imports: StreamingImports, data: bytes) -> None:
    imports.handle({"kind": "begin", "id": "t1", "name": "long.wav", "size": len(data)})
    imports.handle({"kind": "slice", "id": "t1", "seq": 0, "offset": 0}, [data[:1000]])


def test_cancel_drops_what_arrived_and_later_slices_are_ignored(
    vault: Vault, browser: Browser
) -> None:
    imports = imports_for(vault, browser)
    begin_and_send_half(imports, b"x" * 2000)
    assert len(vault_leftovers(vault)) == 1  # the encrypted partial blob
    imports.handle({"kind": "cancel", "id": "t1"})
    imports.handle({"kind": "slice", "id": "t1", "seq": 1, "offset": 1000}, [b"x" * 1000])
    assert browser.kinds("t1") == ["ready", "ack", "cancelled"]
    assert vault_leftovers(vault) == [] and vault.list_files() == []


def test_a_lost_slice_fails_the_file_and_keeps_nothing(vault: Vault, browser: Browser) -> None:
    imports = imports_for(vault, browser)
    begin_and_send_half(imports, b"x" * 50000)
    imports.handle({"kind": "slice", "id": "t1", "seq": 2, "offset": 2000}, [b"x" * 1000])
    assert browser.kinds("t1") == ["ready", "ack", "failed"]
    assert "was lost on the way" in browser.final("t1")["message"]
    assert vault_leftovers(vault) == [] and browser.imported == []


def test_an_end_before_every_byte_arrived_keeps_nothing(vault: Vault, browser: Browser) -> None:
    imports = imports_for(vault, browser)
    begin_and_send_half(imports, b"x" * 2000)
    imports.handle({"kind": "end", "id": "t1", "size": 1000})
    assert browser.kinds("t1")[-1] == "failed"
    assert "changed size while it was being read" in browser.failed[0][1]
    assert vault_leftovers(vault) == [] and vault.list_files() == []


def test_a_silent_browser_is_noticed_and_its_import_dropped(vault: Vault, browser: Browser) -> None:
    imports = imports_for(vault, browser, stall_seconds=30)
    begin_and_send_half(imports, b"x" * 2000)
    browser.now = 29.0
    imports.check_stalled()
    assert len(imports.transfers) == 1  # not yet
    browser.now = 31.0
    imports.check_stalled()
    assert imports.transfers == [] and vault_leftovers(vault) == []
    assert "stopped arriving from the browser" in browser.failed[0][1]


def test_the_watchdog_thread_drops_an_abandoned_import_by_itself(vault: Vault) -> None:
    failed: list[str] = []
    imports = StreamingImports(
        lambda: vault,
        send=lambda _: None,
        on_imported=lambda _: None,
        on_failed=lambda name, _: failed.append(name),
        stall_seconds=0.3,
    )
    begin_and_send_half(imports, b"x" * 2000)  # then the page is closed: nothing more comes
    wait_until(lambda: failed == ["long.wav"], timeout=10, what="the watchdog")
    assert vault_leftovers(vault) == [] and imports.transfers == []


def test_closing_the_widget_drops_files_under_way_and_refuses_new_ones(vault: Vault) -> None:
    failed: list[tuple[str, str]] = []
    widget = BrowserImport(
        lambda: vault, on_imported=lambda _: None, on_failed=lambda *f: failed.append(f)
    )
    begin_and_send_half(widget.imports, b"x" * 2000)
    widget.close()
    assert vault_leftovers(vault) == [] and failed[0][0] == "long.wav"
    widget.imports.handle({"kind": "begin", "id": "t2", "name": "late.txt", "size": 1})
    assert vault_leftovers(vault) == [] and "form was closed" in failed[-1][1]


def test_two_files_may_arrive_interleaved(vault: Vault, browser: Browser) -> None:
    imports = imports_for(vault, browser)
    for tid in ("a", "b"):
        imports.handle({"kind": "begin", "id": tid, "name": f"{tid}.txt", "size": 4})
    imports.handle({"kind": "slice", "id": "a", "seq": 0, "offset": 0}, [b"aa"])
    imports.handle({"kind": "slice", "id": "b", "seq": 0, "offset": 0}, [b"bbbb"])
    imports.handle({"kind": "slice", "id": "a", "seq": 1, "offset": 2}, [b"aa"])
    for tid in ("b", "a"):
        imports.handle({"kind": "end", "id": tid, "size": 4})
    assert [f.name for f in browser.imported] == ["b.txt", "a.txt"]
    for f in browser.imported:
        with vault.open_file(f.id) as reader:
            assert reader.read() == f.name[0].encode() * 4


def test_memory_stays_flat_while_many_slices_stream_in(vault: Vault, browser: Browser) -> None:
    # 64 MiB in 2 MiB slices: the kernel's side keeps no slice after writing it.
    import tracemalloc

    slice_ = os.urandom(2 * 1024 * 1024)
    imports = imports_for(vault, browser)
    imports.handle({"kind": "begin", "id": "big", "name": "big.bin", "size": 32 * len(slice_)})
    tracemalloc.start()
    try:
        start = time.monotonic()
        for seq in range(32):
            offset = seq * len(slice_)
            imports.handle({"kind": "slice", "id": "big", "seq": seq, "offset": offset}, [slice_])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    imports.handle({"kind": "end", "id": "big", "size": 32 * len(slice_)})
    assert browser.imported[0].size == 64 * 1024 * 1024
    assert peak < 8 * len(slice_), f"peak {peak} bytes traced ({time.monotonic() - start:.1f} s)"


def test_a_refused_name_is_answered_before_any_byte_is_sent(vault: Vault, browser: Browser) -> None:
    imports = imports_for(vault, browser)
    imports.handle({"kind": "begin", "id": "t1", "name": "x" * 5000, "size": 3})
    assert browser.kinds("t1") == ["failed"] and imports.transfers == []
    assert browser.failed and browser.failed[0][0] == "x" * 5000
    assert vault_leftovers(vault) == []
