"""The one HTTP session every Nextcloud request goes through.

One ``requests.Session`` subclass sets, in one place: default timeouts, the User-Agent, TLS
verification, HTTP Basic auth, connection pooling, and the mapping from HTTP statuses and
transport exceptions to ``tellakit.errors`` (the contract's table). Retrying is the engine's
decision, so nothing here retries.

Threads: a few worker threads may share one session (requests/urllib3 pool connections per
host and hand each request its own connection). Rule: configure the session (auth, headers,
adapters) before sharing it, never while requests run.
"""

from __future__ import annotations

import base64
import os
import re
import socket
import struct
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import HTTPBasicAuth
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from tellakit.errors import (
    AuthenticationFailed,
    ConnectionLost,
    NameRejected,
    QuotaExceeded,
    RateLimited,
    ResourceLocked,
    ServerError,
    ServerUnavailable,
    TLSFailure,
    TwoFactorRequired,
    UnexpectedResponse,
)
from tellakit.nextcloud.abort import register_socket
from tellakit.nextcloud.xml import DavError, parse_dav_error, parse_http_date
from tellakit.version import tellakit_version

#: (connect, read) seconds for every request; the read timeout is the longest silence allowed
#: between bytes of the answer (not the whole transfer).
DEFAULT_TIMEOUT: tuple[float, float] = (15.0, 120.0)
#: For the final MOVE of a chunked upload: the server assembles the whole file before answering.
ASSEMBLY_TIMEOUT: tuple[float, float] = (15.0, 900.0)

TWO_FACTOR_HINT = (
    "If the account uses two-factor authentication, connect with Login Flow (browser) or an "
    "app password created in the Nextcloud security settings."
)


def user_agent() -> str:
    """``tellakit/<version>`` (the installed package's version; this layer never imports the
    package root, which re-exports the layers above it)."""
    return f"tellakit/{tellakit_version()}"


#: Environment variables naming a CA bundle (PEM) to trust instead of certifi's, in order.
CA_BUNDLE_ENV = ("TELLAKIT_CA_BUNDLE", "REQUESTS_CA_BUNDLE")


def ca_bundle() -> str | None:
    """The CA bundle an organization configured for its own certificate authority, if any."""
    for name in CA_BUNDLE_ENV:
        value = os.environ.get(name)
        if value:
            return value
    return None


class _SecretBasicAuth(HTTPBasicAuth):
    """HTTP Basic in UTF-8 whose repr never shows the password.

    requests encodes str credentials as latin-1, which breaks (or cannot express) non-ASCII
    logins and passwords; Nextcloud reads them as UTF-8.
    """

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        user, password = (
            v.decode() if isinstance(v, bytes) else str(v) for v in (self.username, self.password)
        )
        raw = f"{user}:{password}".encode()
        r.headers["Authorization"] = "Basic " + base64.b64encode(raw).decode("ascii")
        return r

    def __repr__(self) -> str:
        return f"<BasicAuth login={self.username!r}>"


class NextcloudSession(requests.Session):
    """A ``requests.Session`` with tellakit's defaults and error mapping.

    ``request_checked`` is the entry point used by the protocol modules: it sends, then either
    returns the response (status in ``ok``) or raises the mapped ``ServerError``.
    """

    def __init__(
        self,
        login: str | None = None,
        password: str | None = None,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        pool_size: int = 16,
    ) -> None:
        super().__init__()
        self.timeout = timeout
        # Verification is always on; only the trust anchors can change (an organization's CA).
        self.verify = ca_bundle() or True
        self.trust_env = False  # no ~/.netrc credentials or proxy surprises behind our back
        self.headers["User-Agent"] = user_agent()
        #: the password, kept only to scrub it from any message text (never shown)
        self.scrub_secret = password or ""
        if login is not None and password is not None:
            self.auth = _SecretBasicAuth(login, password)
        #: connections kept per host: the most requests that run at once without opening
        #: (and then dropping) extra ones, e.g. parallel chunk PUTs
        self.pool_size = pool_size
        adapter = _AbortiveCloseAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def __repr__(self) -> str:
        login = self.auth.username if isinstance(self.auth, HTTPBasicAuth) else None
        return f"<NextcloudSession login={login!r}>"

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        """As ``requests.Session.request``, with the default timeout filled in."""
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)

    def request_checked(
        self,
        method: str,
        url: str,
        *,
        ok: Iterable[int] = (200, 201, 204, 207),
        **kwargs: Any,
    ) -> requests.Response:
        """Send a request; return the response if its status is in ``ok``, else raise.

        Transport failures become ``ConnectionLost`` / ``TLSFailure``; statuses are mapped by
        :func:`error_for_response`. Messages name method and path only.
        """
        try:
            resp = self.request(method, url, **kwargs)
        except requests.RequestException as exc:
            raise error_for_exception(exc, method, url, secret=self.scrub_secret) from None
        if resp.status_code in set(ok):
            return resp
        raise error_for_response(resp, method, url, secret=self.scrub_secret)

    def scrub(self, text: str) -> str:
        """Remove the password from ``text`` should a server or library ever echo it."""
        return _scrub(text, self.scrub_secret)


class _WatchedHTTPConnection(HTTPConnection):
    """Hands the socket of each request to the cancel watcher (see abort.py).

    ``connect()`` covers a new connection (also when http.client connects lazily while
    sending), ``request()`` a connection reused from the pool. Outside ``abort.watch`` the
    registration does nothing.
    """

    def connect(self) -> None:
        super().connect()
        register_socket(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        if self.sock is not None:
            register_socket(self.sock)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(_WatchedHTTPConnection, HTTPSConnection):
    """The HTTPS twin of :class:`_WatchedHTTPConnection` (its methods call on to TLS)."""


class _WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _AbortiveCloseAdapter(HTTPAdapter):
    """Connections that close with a reset (SO_LINGER 0) instead of a FIN, and can be cut.

    When a body is abandoned mid-way (pause, cancel, an error in the source), closing with a
    FIN would leave the megabytes still queued in the kernel to trickle out to the server
    first, so the server would go on receiving (and holding the file's lock) long after we
    gave up. A reset drops the queue and tells the server at once. A connection is only
    closed after its last answer was read, or when we abandon it, so nothing else is lost.
    The pools make :class:`_WatchedHTTPConnection` s, so a request run under a cancel token
    is cut by the watcher even while it waits for the answer (abort.py).
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["socket_options"] = [
            *HTTPConnection.default_socket_options,
            (socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)),
        ]
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPConnectionPool,
            "https": _WatchedHTTPSConnectionPool,
        }


def _scrub(text: str, secret: str) -> str:
    if secret and len(secret) >= 3:
        text = text.replace(secret, "***")
    return text


def path_of(url: str) -> str:
    """The decoded path of a URL, for messages (never the query, never credentials)."""
    return unquote(urlsplit(url).path) or "/"


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Parse ``Retry-After`` (delta seconds or HTTP date) into seconds from now (>= 0)."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    when = parse_http_date(value)
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def dav_error_of(resp: requests.Response) -> DavError | None:
    """The parsed ``d:error`` body of a response, if it has one."""
    ctype = resp.headers.get("Content-Type", "")
    if "xml" not in ctype and not resp.content.lstrip().startswith(b"<"):
        return None
    return parse_dav_error(resp.content[:65536])


def is_password_login_forbidden(resp: requests.Response) -> bool:
    """True for Nextcloud's answer to a main-password login on a 2FA (or token-only) account.

    DAV answers 401 with ``Sabre\\...\\PasswordLoginForbidden`` and ``<o:hint>password login
    forbidden</o:hint>`` (apps/dav/lib/Connector/Sabre/Auth.php; lib/private/User/Session.php
    ``logClientIn`` throws PasswordLoginForbiddenException before even checking the password
    when 2FA is enforced for the user). Controllers with CORS answer the JSON message
    "Password login forbidden, use token instead". OCS routes show a plain 401.
    """
    if resp.status_code != 401:
        return False
    err = dav_error_of(resp)
    if err is not None and (
        err.exception_name == "PasswordLoginForbidden"
        or (err.hint or "").lower() == "password login forbidden"
    ):
        return True
    return b"password login forbidden" in resp.content[:4096].lower()


def error_for_response(
    resp: requests.Response, method: str, url: str, *, secret: str = ""
) -> ServerError:
    """Map a non-success response to the contract's error (not raised, returned)."""
    status = resp.status_code
    path = path_of(url)
    where = f"{method} {path}"
    err = dav_error_of(resp)
    server_says = ""
    if err is not None and (err.reason or err.message):
        server_says = f" Server says: {_scrub(err.reason or err.message or '', secret)}"
    kw: dict[str, Any] = {"status": status, "method": method, "path": path}

    if status == 401:
        if is_password_login_forbidden(resp):
            return TwoFactorRequired(
                f"{where}: the server does not accept the account's main password here "
                "(two-factor authentication or token-only login). Connect with Login Flow "
                "(browser) or an app password.",
                **kw,
            )
        return AuthenticationFailed(
            f"{where}: the server refused the login name or password (401). Check them, or "
            f"whether the app password was revoked. {TWO_FACTOR_HINT}",
            **kw,
        )
    if status == 423:
        return ResourceLocked(
            f"{where}: the file is locked on the server (423).{server_says}", **kw
        )
    if status == 429:
        after = retry_after_seconds(resp.headers.get("Retry-After"))
        when = f" Retry after {after:g} s." if after is not None else ""
        return RateLimited(
            f"{where}: too many requests (429); the server is throttling this client.{when}",
            retry_after=after,
            **kw,
        )
    if status == 507:
        return QuotaExceeded(
            f"{where}: the account's storage on the server is full (507).{server_says}", **kw
        )
    if status == 400 and err is not None and err.exception_name == "InvalidPath":
        reason = _scrub(err.reason or err.message or "invalid name", secret)
        return NameRejected(f"{where}: the server refused the name: {reason}", reason=reason, **kw)
    if 500 <= status <= 599:
        maintenance = resp.headers.get("X-Nextcloud-Maintenance-Mode") == "1" or (
            err is not None and "maintenance" in (err.message or "").lower()
        )
        what = "is in maintenance mode" if maintenance else f"is unavailable ({status})"
        return ServerUnavailable(
            f"{where}: the server {what}; try again later.{server_says}",
            retry_after=retry_after_seconds(resp.headers.get("Retry-After")),
            **kw,
        )
    return UnexpectedResponse(f"{where}: unexpected answer {status}.{server_says}", **kw)


def error_for_exception(
    exc: requests.RequestException, method: str, url: str, *, secret: str = ""
) -> ServerError:
    """Map a transport failure to ``TLSFailure`` or ``ConnectionLost``."""
    path = path_of(url)
    host = urlsplit(url).netloc.rsplit("@", 1)[-1]
    kw: dict[str, Any] = {"method": method, "path": path}
    if isinstance(exc, requests.exceptions.SSLError):
        return TLSFailure(
            f"{method} {path}: the TLS certificate of {host} could not be verified "
            "(self-signed, expired, or for another name). tellakit does not turn verification "
            "off; install a valid certificate on the server.",
            **kw,
        )
    if isinstance(exc, requests.exceptions.Timeout):
        what = "timed out"
    elif isinstance(exc, requests.exceptions.ConnectionError):
        what = "could not reach the server or the connection dropped"
    else:
        what = f"failed ({type(exc).__name__})"
    return ConnectionLost(f"{method} {path} on {host}: {what}.", **kw)
