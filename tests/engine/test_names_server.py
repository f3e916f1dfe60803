"""Generated titles and file names (slashes, "..", control characters, 300-byte names, reserved
names, emoji): every path the engine creates stays inside the root folder, and the server
(in its strictest, Windows-compatible mode) accepts it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import PASSPHRASE, SMALL
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tellakit.engine import Submitter, connect
from tellakit.reports import Status
from tellakit.vault import create_vault

ROOT = "H"
PIECES = [
    *'ab/\\.:*?"<>| \t\n\x00\x01\x1f\x7f',
    "..",
    "../",
    "😀",
    "é",
    "\u202e",
    "CON",
    "nul",
    "com1",
    ".part",
    ".htaccess",
    "description.txt",
    "manifest.json",
    "x" * 120,
    "ü" * 70,
]
NAMES = st.lists(st.sampled_from(PIECES), max_size=12).map("".join) | st.text(max_size=40)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, Submitter]]:
    pytest.importorskip("wsgidav", reason="tellakit[devserver] extra not installed")
    from tellakit.devserver import DevServer

    base = tmp_path_factory.mktemp("names")
    server = DevServer(base / "server", users={"alice": "secret"}, windows_compatible=True)
    server.start()
    vault = create_vault(base / "vault", PASSPHRASE, work_factor=10)
    connect(vault, server.url, "alice", "secret", ROOT)
    submitter = Submitter(vault, tuning=SMALL)
    try:
        yield server, vault, submitter
    finally:
        submitter.close()
        vault.close()
        server.stop()


@pytest.mark.timeout(120)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(title=NAMES, names=st.lists(NAMES, min_size=1, max_size=3))
def test_generated_names_stay_inside_root_and_are_accepted(env, title, names):
    server, vault, submitter = env
    ids = [vault.import_bytes(f"{i}:{n!r}".encode(), n or "x").id for i, n in enumerate(names)]
    if not title.strip():
        title = "t"  # a report needs a title; blank-ish titles are covered below
    report = vault.create_report(title, "d", ids)
    submitter.submit(report.id)
    assert submitter.wait(report.id, timeout=60)
    done = vault.get_report(report.id)
    assert done.status is Status.SUBMITTED, done.reason
    root = Path(server.files_root("alice")).resolve() / ROOT
    folder = (Path(server.files_root("alice")) / done.remote_folder).resolve()
    assert folder.parent == root  # one level below the root folder, never elsewhere
    for att in done.attachments:
        stored = (folder / att.remote_name).resolve()
        assert stored.parent == folder
        assert stored.read_bytes() == f"{att.position}:{names[att.position]!r}".encode()


def test_blank_and_dot_titles_get_a_folder_inside_root(env):
    server, vault, submitter = env
    for title in [" . ", "..", "/", "\x00\x01", "???", "CON"]:
        report = vault.create_report(title, "d")
        submitter.submit(report.id)
        assert submitter.wait(report.id, timeout=60)
        done = vault.get_report(report.id)
        assert done.status is Status.SUBMITTED, (title, done.reason)
        folder = (Path(server.files_root("alice")) / done.remote_folder).resolve()
        assert folder.parent == Path(server.files_root("alice")).resolve() / ROOT
