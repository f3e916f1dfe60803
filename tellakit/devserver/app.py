"""The Nextcloud application: routes, authentication, maintenance, brute force, and the
Nextcloud-specific checks and headers around wsgidav's WebDAV."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlparse

from wsgidav.wsgidav_app import WsgiDAVApp

from tellakit.devserver import bulk
from tellakit.devserver.context import Context, FileBusy
from tellakit.devserver.davfs import HASHES, NcProvider
from tellakit.devserver.errormw import NcErrorMiddleware
from tellakit.devserver.frontend import request_path
from tellakit.devserver.loginflow import LoginFlows
from tellakit.devserver.meta import INSTANCE_ID, tree_size
from tellakit.devserver.ocs import handle_ocs, status_document
from tellakit.devserver.recalculate import recalculate
from tellakit.devserver.responses import (
    PASSWORD_LOGIN_FORBIDDEN,
    Environ,
    StartResponse,
    dav_error,
    drain,
    invalid_path,
    respond,
)
from tellakit.devserver.uploads import Uploads
from tellakit.devserver.users import Identity

FILES_PREFIX = "/remote.php/dav/files/"
LEGACY_PREFIX = "/remote.php/webdav"
UPLOADS_PREFIX = "/remote.php/dav/uploads/"
AUTH_CHALLENGE = [("WWW-Authenticate", 'Basic realm="Nextcloud", charset="UTF-8"')]
WRITE_METHODS = {"PUT", "MKCOL", "MOVE", "COPY", "DELETE", "PROPPATCH"}


def wsgidav_config(ctx: Context) -> dict[str, Any]:
    """wsgidav configured as the files backend: no auth of its own (done here), no HTML."""
    return {
        "provider_mapping": {
            "/remote.php/dav/files": NcProvider(ctx, legacy=False),
            LEGACY_PREFIX: NcProvider(ctx, legacy=True),
        },
        "middleware_stack": [NcErrorMiddleware, "wsgidav.request_resolver.RequestResolver"],
        "http_authenticator": {"domain_controller": None},
        "simple_dc": {"user_mapping": {"*": True}},
        "property_manager": True,
        "lock_storage": True,
        "mutable_live_props": ["{DAV:}getlastmodified", "{DAV:}lastmodified"],
        "block_size": 256 * 1024,
        "verbose": 1,
        "logging": {"enable": False},
        "dir_browser": {"enable": False},
        "suppress_version_info": True,
    }


class BruteForce:
    """Counts failed logins per address; past the limit every request gets 429."""

    def __init__(self, attempts: int, window: float = 300.0) -> None:
        self.attempts = attempts
        self.window = window
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, addr: str) -> list[float]:
        now = time.monotonic()
        items = [t for t in self._failures.get(addr, []) if now - t < self.window]
        self._failures[addr] = items
        return items

    def blocked(self, addr: str) -> bool:
        with self._lock:
            return len(self._recent(addr)) >= self.attempts

    def failed(self, addr: str) -> None:
        with self._lock:
            self._recent(addr).append(time.monotonic())

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()


class NextcloudApp:
    """The WSGI application behind the fault injector."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        # wsgidav announces itself and warns about Basic auth without TLS (this server is
        # for loopback use); keep that out of the server's output.
        wsgidav_logger = logging.getLogger("wsgidav")
        level = wsgidav_logger.level
        wsgidav_logger.setLevel(logging.ERROR)
        try:
            self.dav = WsgiDAVApp(wsgidav_config(ctx))
        finally:
            wsgidav_logger.setLevel(level)
        self.brute_force = BruteForce(ctx.brute_force_attempts)
        self.flows = LoginFlows(ctx)
        self.uploads = Uploads(ctx)

    # --- helpers -----------------------------------------------------------------------------
    def identify(self, environ: Environ) -> tuple[Identity | None, bool]:
        """(identity, credentials_were_sent)."""
        header = environ.get("HTTP_AUTHORIZATION", "")
        if not header.lower().startswith("basic "):
            return None, False
        credentials = _basic_credentials(header)
        if credentials is None:
            return None, True
        login, password = credentials
        identity = self.ctx.users.authenticate(login, password)
        if identity is None and self.ctx.brute_force_protection:
            self.brute_force.failed(environ.get("REMOTE_ADDR", "-"))
        return identity, True

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = request_path(environ)
        method = environ.get("REQUEST_METHOD", "GET").upper()
        addr = environ.get("REMOTE_ADDR", "-")
        if path == "/status.php":
            status = status_document(self.ctx)
            return respond(
                start_response, 200, json.dumps(status).encode(), content_type="application/json"
            )
        if self.ctx.brute_force_protection and self.brute_force.blocked(addr):
            drain(environ)
            return dav_error(
                start_response, 429, "Too many requests", headers=[("Retry-After", "30")]
            )
        if self.ctx.maintenance:
            drain(environ)
            if path.startswith("/ocs/"):
                return handle_ocs(
                    self.ctx, environ, start_response, 2 if "/v2.php" in path else 1, "", None
                )
            return dav_error(
                start_response, 503, "System in maintenance mode.", headers=[("Retry-After", "120")]
            )
        for prefix, version in (("/ocs/v1.php/", 1), ("/ocs/v2.php/", 2)):
            if path.startswith(prefix):
                identity, _sent = self.identify(environ)
                return handle_ocs(
                    self.ctx, environ, start_response, version, path[len(prefix) :], identity
                )
        route = path.removeprefix("/index.php")
        if route.startswith("/login/v2"):
            return self.flows.handle(environ, start_response, route)
        if path.startswith("/remote.php/"):
            return self.remote(environ, start_response, path, method)
        drain(environ)
        return respond(start_response, 404, b"Not Found", content_type="text/plain")

    def remote(
        self, environ: Environ, start_response: StartResponse, path: str, method: str
    ) -> Iterable[bytes]:
        """WebDAV below /remote.php: authentication, then files or uploads."""
        identity, sent = self.identify(environ)
        if identity is None:
            drain(environ)
            credentials = _basic_credentials(environ.get("HTTP_AUTHORIZATION", ""))
            if credentials is not None and self.ctx.users.password_login_forbidden(*credentials):
                # Sabre's answer to PasswordLoginForbidden: no WWW-Authenticate challenge.
                return dav_error(start_response, 401, "", exception=PASSWORD_LOGIN_FORBIDDEN)
            message = (
                "Username or password was incorrect"
                if sent
                else "No 'Authorization: Basic' header found. Either the client didn't send "
                "one, or the server is misconfigured"
            )
            return dav_error(start_response, 401, message, headers=AUTH_CHALLENGE)
        environ["tellakit.uid"] = identity.uid
        environ["wsgidav.auth.user_name"] = identity.uid
        environ["wsgidav.auth.realm"] = "Nextcloud"
        if path.rstrip("/") == bulk.BULK_PATH:
            return bulk.handle(self.ctx, environ, start_response, identity.uid)
        if path.startswith(UPLOADS_PREFIX):
            return self.uploads.handle(environ, start_response, path, identity.uid)
        if path.startswith(FILES_PREFIX):
            uid, _, rel = path[len(FILES_PREFIX) :].partition("/")
            if uid != identity.uid:
                drain(environ)
                return dav_error(start_response, 403, f"Access to {path} is not allowed")
            return self.files(environ, start_response, method, identity.uid, rel, legacy=False)
        if path == LEGACY_PREFIX or path.startswith(LEGACY_PREFIX + "/"):
            rel = path[len(LEGACY_PREFIX) :].lstrip("/")
            return self.files(environ, start_response, method, identity.uid, rel, legacy=True)
        drain(environ)
        return dav_error(start_response, 404, f"File with name {path} could not be located")

    def destination(self, environ: Environ, uid: str, legacy: bool) -> str | None:
        """The Destination header as a path below ``uid``'s files root, or None if outside."""
        raw = environ.get("HTTP_DESTINATION")
        if raw is None:
            return None
        dest = unquote(urlparse(raw).path)
        prefix = LEGACY_PREFIX if legacy else FILES_PREFIX + uid
        if dest == prefix or dest.startswith(prefix + "/"):
            rel = dest[len(prefix) :].strip("/")
            return None if ".." in rel.split("/") else rel
        return None

    def files(
        self,
        environ: Environ,
        start_response: StartResponse,
        method: str,
        uid: str,
        rel: str,
        *,
        legacy: bool,
    ) -> Iterable[bytes]:
        """Nextcloud's checks before wsgidav, Nextcloud's headers after it."""
        rel = rel.strip("/")
        target = rel
        if ".." in rel.split("/"):
            drain(environ)
            return dav_error(start_response, 400, "Path contains invalid segments")
        if method == "PATCH":
            return recalculate(self.ctx, environ, start_response, uid, rel)
        if method in ("MOVE", "COPY"):
            if "HTTP_DESTINATION" not in environ:
                drain(environ)
                return dav_error(start_response, 400, "The destination header was not supplied")
            dest = self.destination(environ, uid, legacy)
            if dest is None:
                drain(environ)
                return dav_error(start_response, 403, "Destination outside of the user's files")
            target = dest
        if method in ("PUT", "MKCOL", "MOVE", "COPY") and target:
            reason = self.ctx.rules.check(target.rsplit("/", 1)[-1])
            if reason:
                drain(environ)
                return invalid_path(start_response, reason)
        if method == "MKCOL":
            free = self.ctx.free_bytes(uid)
            if free is not None and free < 4096:  # Nextcloud counts a folder as 4096 bytes
                drain(environ)
                parent = "/" + target.rpartition("/")[0]
                return dav_error(
                    start_response,
                    507,
                    f"Insufficient space in {parent}. {free} available. Cannot create directory",
                )
        if method == "PUT":
            early = self.check_put(environ, start_response, uid, target)
            if early is not None:
                return early
            if "1" in (
                environ.get("HTTP_X_NC_WEBDAV_AUTO_MKCOL"),
                environ.get("HTTP_X_NC_WEBDAV_AUTOMKCOL"),
            ):
                rejected = self.auto_mkcol(uid, target)
                if rejected:
                    drain(environ)
                    return invalid_path(start_response, rejected)
        if method in WRITE_METHODS and (
            self.ctx.is_busy(uid, rel) or (target != rel and self.ctx.is_busy(uid, target))
        ):
            drain(environ)
            return dav_error(start_response, 423, f'"{target}" is locked')
        if method == "COPY":
            early = self.check_copy_quota(environ, start_response, uid, rel, target)
            if early is not None:
                return early
        if method == "PUT":
            try:
                with self.ctx.writing(uid, target):
                    return list(self.call_dav(environ, start_response, method, uid, target))
            except FileBusy:
                drain(environ)
                return dav_error(start_response, 423, f'"{target}" is locked')
        return self.call_dav(environ, start_response, method, uid, target)

    def auto_mkcol(self, uid: str, target: str) -> str | None:
        """Create the missing parents of ``target`` (newer Nextcloud's
        X-NC-WebDAV-Auto-Mkcol); returns a name-rule reason if a parent name is refused."""
        parts = target.split("/")[:-1]
        root = self.ctx.files_root(uid)
        for i, name in enumerate(parts):
            reason = self.ctx.rules.check(name)
            if reason:
                return reason
            folder = root.joinpath(*parts[: i + 1])
            if not folder.exists():
                folder.mkdir()
                self.ctx.meta.touch(uid, "/".join(parts[: i + 1]))
        return None

    def check_put(
        self, environ: Environ, start_response: StartResponse, uid: str, target: str
    ) -> list[bytes] | None:
        """X-OC-MTime, Content-Length and the early quota check of a PUT."""
        mtime = environ.get("HTTP_X_OC_MTIME")
        if mtime is not None:
            try:
                environ["tellakit.mtime"] = int(float(mtime))
            except ValueError:
                drain(environ)
                return dav_error(
                    start_response, 400, "X-OC-MTime header must be an integer (unix timestamp)."
                )
        length = environ.get("CONTENT_LENGTH")
        if length:
            environ["tellakit.expected_length"] = int(length)
        free = self.ctx.free_bytes(uid)
        if free is not None:
            # As Nextcloud's QuotaPlugin: the size of a file being replaced is not counted
            # as free (the new content is written beside it first).
            needed = max(
                _int(environ.get("CONTENT_LENGTH")),
                _int(environ.get("HTTP_X_EXPECTED_ENTITY_LENGTH")),
                _int(environ.get("HTTP_OC_TOTAL_LENGTH")),
            )
            if needed > free:
                drain(environ)
                return insufficient(start_response, target, needed, free)
        return None

    def check_copy_quota(
        self, environ: Environ, start_response: StartResponse, uid: str, rel: str, target: str
    ) -> list[bytes] | None:
        free = self.ctx.free_bytes(uid)
        if free is None:
            return None
        src = self.ctx.files_root(uid) / rel
        needed = src.stat().st_size if src.is_file() else tree_size(src) if src.is_dir() else 0
        if needed > free:
            drain(environ)
            return insufficient(start_response, target, needed, free)
        return None

    def call_dav(
        self, environ: Environ, start_response: StartResponse, method: str, uid: str, target: str
    ) -> Iterable[bytes]:
        """Run wsgidav, then add Nextcloud's response headers."""

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            code = int(status.split(" ", 1)[0])
            if code < 300 and method in ("PUT", "MKCOL", "MOVE", "COPY"):
                headers = self.result_headers(environ, uid, target, headers)
            if code < 300 and method in ("GET", "HEAD"):
                checksum = self.ctx.meta.checksum(uid, target)
                if checksum:
                    headers = [*headers, ("OC-Checksum", checksum)]
                etag = self.ctx.meta.etag(uid, target, self.ctx.files_root(uid) / target)
                headers = [*headers, ("OC-ETag", f'"{etag}"')]
            return start_response(status, headers, exc_info)

        return _body_unless_empty(environ, self.dav(environ, start))

    def result_headers(
        self, environ: Environ, uid: str, target: str, headers: list[tuple[str, str]]
    ) -> list[tuple[str, str]]:
        """ETag, OC-ETag, OC-FileId, X-OC-MTime and X-Hash-* of a successful write."""
        disk = self.ctx.files_root(uid) / target
        etag = self.ctx.meta.etag(uid, target, disk)
        fileid = self.ctx.meta.fileid(uid, target)
        out = [
            (k, v)
            for k, v in headers
            if k.lower() not in ("etag", "content-length", "content-type")
        ]
        out += [
            ("ETag", f'"{etag}"'),
            ("OC-ETag", f'"{etag}"'),
            ("OC-FileId", f"{fileid:08d}{INSTANCE_ID}"),
            ("X-NC-OwnerId", uid),
            ("X-NC-Permissions", "RGDNVCK" if disk.is_dir() else "RGDNVW"),
        ]
        if environ.get("tellakit.mtime_accepted"):
            out.append(("X-OC-MTime", "accepted"))
        if environ.get("HTTP_X_OC_CTIME"):
            out.append(("X-OC-CTime", "accepted"))
        for algo, digest in (environ.get("tellakit.hashes") or {}).items():
            out.append((f"X-Hash-{HASHES[algo]}", digest))
        out.append(("Content-Length", "0"))
        environ["tellakit.empty_body"] = True
        return out


def _basic_credentials(header: str) -> tuple[str, str] | None:
    """(login, password) of a Basic ``Authorization`` header, None when there is none."""
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    login, sep, password = decoded.partition(":")
    return (login, password) if sep else None


def _body_unless_empty(environ: Environ, result: Iterable[bytes]) -> Iterable[bytes]:
    # Nextcloud answers successful writes with an empty body; wsgidav writes a small page.
    try:
        for chunk in result:
            if not environ.get("tellakit.empty_body"):
                yield chunk
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def insufficient(start_response: StartResponse, path: str, needed: int, free: int) -> list[bytes]:
    """Nextcloud's 507 answer."""
    return dav_error(
        start_response,
        507,
        f"Insufficient space in {path}, {needed} required, {free} available",
    )
