"""Where the end-to-end engine tests send reports: the development server, or a real Nextcloud.

A test that takes the ``target`` fixture runs twice: against a fresh development server, and
against the real Nextcloud named by three environment variables (skipped, saying so, when they
are not set). ``Target`` hides the difference for what such a test checks: the files that
arrived below the report root, read from disk on the dev server and over WebDAV on a real one.
Tests that need the fault injector or the request log call ``need_devserver(why)``.

On a real server every test session works in its own new folder (``tellakit-tests-<time>-<random>``
at the top of the account), each test in a numbered folder inside it; the session's folder is
deleted at the end, also after failures. See docs/testing.md.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest
import requests
from defusedxml import ElementTree
from engine_helpers import file_sha256, layout_problems, server_tree

URL_ENV = "TELLAKIT_TEST_NEXTCLOUD_URL"
USER_ENV = "TELLAKIT_TEST_NEXTCLOUD_USER"
PASSWORD_ENV = "TELLAKIT_TEST_NEXTCLOUD_APP_PASSWORD"
NO_SERVER = (
    f"no real Nextcloud given: set {URL_ENV}, {USER_ENV} and {PASSWORD_ENV} to run this "
    "test against one (docs/testing.md)"
)
DAV = "{DAV:}"


def real_server_settings() -> tuple[str, str, str] | None:
    """(url, user, app password) from the environment, or None when not all are set."""
    values = [os.environ.get(name, "").strip() for name in (URL_ENV, USER_ENV, PASSWORD_ENV)]
    if not all(values):
        return None
    url, user, password = values
    return url.rstrip("/"), user, password


class WebDav:
    """The few WebDAV calls the tests need to look at (and clean up) a real account."""

    def __init__(self, url: str, user: str, password: str) -> None:
        self.base = f"{url}/remote.php/dav/files/{quote(user)}"
        self.session = requests.Session()
        self.session.auth = (user, password)
        self.session.headers["OCS-APIRequest"] = "true"

    def url(self, rel: str) -> str:
        return f"{self.base}/{quote(rel.strip('/'))}"

    def mkcol(self, rel: str) -> None:
        r = self.session.request("MKCOL", self.url(rel), timeout=60)
        if r.status_code not in (201, 405):
            raise AssertionError(f"MKCOL {rel}: HTTP {r.status_code}")

    def delete(self, rel: str) -> None:
        r = self.session.delete(self.url(rel), timeout=120)
        if r.status_code not in (204, 404):
            raise AssertionError(f"DELETE {rel}: HTTP {r.status_code}")

    def children(self, rel: str) -> list[tuple[str, bool]]:
        """(name, is_folder) of each entry directly inside folder ``rel``."""
        body = (
            '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/>'
            "</d:prop></d:propfind>"
        )
        r = self.session.request(
            "PROPFIND", self.url(rel) + "/", data=body, headers={"Depth": "1"}, timeout=60
        )
        if r.status_code != 207:
            raise AssertionError(f"PROPFIND {rel}: HTTP {r.status_code}")
        own = unquote(urlsplit(self.url(rel)).path).rstrip("/")
        out = []
        for response in ElementTree.fromstring(r.content).iter(f"{DAV}response"):
            href = unquote(urlsplit(response.findtext(f"{DAV}href") or "").path).rstrip("/")
            if href == own:
                continue
            folder = response.find(f".//{DAV}resourcetype/{DAV}collection") is not None
            out.append((href.rsplit("/", 1)[-1], folder))
        return out

    def get(self, rel: str) -> bytes:
        r = self.session.get(self.url(rel), timeout=120)
        if r.status_code != 200:
            raise AssertionError(f"GET {rel}: HTTP {r.status_code}")
        return r.content

    def sha256(self, rel: str) -> str:
        digest = hashlib.sha256()
        with self.session.get(self.url(rel), stream=True, timeout=120) as r:
            if r.status_code != 200:
                raise AssertionError(f"GET {rel}: HTTP {r.status_code}")
            for block in r.iter_content(1 << 20):
                digest.update(block)
        return digest.hexdigest()


@dataclass
class Target:
    """The server one test sends its reports to, and the report root folder on it."""

    kind: str  # "devserver" or "nextcloud"
    url: str
    user: str
    password: str
    root: str  # the reports' root folder, relative to the user's files
    devserver: Any = None  # the DevServer when kind == "devserver"
    dav: WebDav | None = field(default=None, repr=False)

    def need_devserver(self, why: str) -> Any:
        """The development server; skips the test (saying ``why``) on a real server."""
        if self.devserver is None:
            pytest.skip(f"needs the development server: {why}")
        return self.devserver

    def tree(self, *, contents: bool = True) -> dict[str, bytes]:
        """Every file and folder below the root, like ``engine_helpers.server_tree``."""
        if self.devserver is not None:
            return server_tree(self._disk_root(), contents=contents)
        assert self.dav is not None
        out: dict[str, bytes] = {}
        pending = [""]
        while pending:
            rel = pending.pop()
            for name, folder in self.dav.children(f"{self.root}/{rel}"):
                path = f"{rel}{name}"
                if folder:
                    out[path + "/"] = b""
                    pending.append(path + "/")
                else:
                    out[path] = self.dav.get(f"{self.root}/{path}") if contents else b""
        return out

    def layout_problems(self, folders: dict[str, list[str]]) -> list[str]:
        """``engine_helpers.layout_problems`` below the root: ``folders`` maps each report
        folder (relative to the root) to exactly the file names it must hold."""
        tree = {f"root/{k}": v for k, v in self.tree(contents=False).items()}
        return layout_problems(tree, {f"root/{k}": names for k, names in folders.items()})

    def sha256(self, rel: str) -> str:
        """SHA-256 of the file ``rel`` below the root, streamed."""
        if self.devserver is not None:
            return file_sha256(self._disk_root() / rel)
        assert self.dav is not None
        return self.dav.sha256(f"{self.root}/{rel}")

    def read(self, rel: str) -> bytes:
        """The bytes of the file ``rel`` below the root."""
        if self.devserver is not None:
            return (self._disk_root() / rel).read_bytes()
        assert self.dav is not None
        return self.dav.get(f"{self.root}/{rel}")

    def exists(self, rel: str) -> bool:
        if self.devserver is not None:
            return (self._disk_root() / rel).exists()
        assert self.dav is not None
        parent, _, name = f"{self.root}/{rel}".rpartition("/")
        try:
            return name in {n for n, _ in self.dav.children(parent)}
        except AssertionError:
            return False  # the parent folder is not there either

    def _disk_root(self) -> Path:
        return Path(self.devserver.files_root(self.user)) / self.root


class RealNextcloud:
    """One test session's folder on a real Nextcloud; deleted by :meth:`close`."""

    def __init__(self, url: str, user: str, password: str) -> None:
        self.url, self.user, self.password = url, user, password
        self.dav = WebDav(url, user, password)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.folder = f"tellakit-tests-{stamp}-{secrets.token_hex(3)}"
        self.dav.mkcol(self.folder)
        self._numbers = itertools.count(1)

    def target(self) -> Target:
        """A target whose root is a new numbered folder of this session (created by connect)."""
        root = f"{self.folder}/{next(self._numbers):03d}"
        return Target("nextcloud", self.url, self.user, self.password, root, dav=self.dav)

    def close(self) -> None:
        self.dav.delete(self.folder)


def real_nextcloud_session() -> Iterator[RealNextcloud | None]:
    """The body of the session fixture: None without the environment variables."""
    settings = real_server_settings()
    if settings is None:
        yield None
        return
    server = RealNextcloud(*settings)
    try:
        yield server
    finally:
        server.close()
