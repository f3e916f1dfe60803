"""Login Flow v2: the browser grants an app password; the main password is never typed here.

``start_login_flow`` asks the server for a flow; the person opens ``flow.login_url`` and grants
access; ``poll_login_flow`` polls until the server hands out the credentials (once) or the flow
expires (the server forgets it after 20 minutes).

Behind a TLS-terminating proxy without ``overwriteprotocol`` Nextcloud builds the flow's URLs
(and the ``server`` of the credentials) with ``http://`` although it was reached over https.
Those URLs on the same host are used in their https form; when that form does not answer,
the error names the administrator's fix.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from tellakit.errors import (
    ConnectionLost,
    InsecureURL,
    LoginFlowExpired,
    NotNextcloud,
    ServerError,
    UnexpectedResponse,
)
from tellakit.nextcloud.account import no_auth
from tellakit.nextcloud.cancel import Cancelled, CancelToken, is_cancelled
from tellakit.nextcloud.models import Credentials, LoginFlow
from tellakit.nextcloud.session import NextcloudSession, path_of, user_agent
from tellakit.nextcloud.urls import check_scheme, normalize_server_url

#: How long the server keeps a flow (LoginFlowV2Service: 20 minutes).
FLOW_LIFETIME_SECONDS = 1200
#: What the server's administrator sets when Nextcloud hands out http:// behind a TLS proxy.
PROXY_FIX = (
    "The server's administrator can fix this in Nextcloud's config/config.php: set "
    "'overwriteprotocol' => 'https' (Nextcloud behind a TLS-terminating proxy), or list the "
    "proxy in 'trusted_proxies' so that its X-Forwarded-Proto header counts."
)


def https_form(url: str, base_url: str) -> str | None:
    """The https form of a server-given ``http://`` ``url`` on the host of ``base_url``.

    Only when ``base_url`` (the address the server was reached at) is https and ``url`` names
    the same host over plain http: the URL's path and query on ``base_url``'s host and port.
    None otherwise (nothing to upgrade, or another host, which is not ours to guess).
    """
    base, given = urlsplit(base_url), urlsplit(url)
    if base.scheme.lower() != "https" or given.scheme.lower() != "http":
        return None
    if (given.hostname or "").lower() != (base.hostname or "").lower():
        return None
    return urlunsplit(("https", base.netloc, given.path, given.query, ""))


def start_login_flow(
    server_url: str,
    *,
    user_agent: str | None = None,
    allow_insecure_http: bool = False,
    session: NextcloudSession | None = None,
) -> LoginFlow:
    """POST /index.php/login/v2; the User-Agent becomes the app password's name on the server.

    Raises ``NotNextcloud`` when the server offers no Login Flow v2, ``InsecureURL`` when it
    points the flow at plain http off loopback without opt-in.
    """
    base = normalize_server_url(server_url, allow_insecure_http=allow_insecure_http)
    own = session is None
    sess = session or NextcloudSession()
    url = f"{base}/index.php/login/v2"
    try:
        resp = sess.request_checked(
            "POST",
            url,
            ok=(200, 404, 405),
            auth=no_auth,
            headers={"User-Agent": user_agent or _default_agent()},
        )
    finally:
        if own:
            sess.close()
    data = _json(resp) if resp.status_code == 200 else None
    poll = data.get("poll") if isinstance(data, dict) else None
    poll_fields = _strings(poll, "token", "endpoint")
    login_fields = _strings(data, "login")
    if poll_fields is None or login_fields is None:
        raise NotNextcloud(
            f"POST {path_of(url)}: the server does not offer Login Flow v2 "
            "(not a Nextcloud server, or a very old one).",
            status=resp.status_code,
            method="POST",
            path=path_of(url),
        )
    token, endpoint = poll_fields
    (login,) = login_fields
    # Reached over https but handed http:// on the same host: a TLS proxy in front of a
    # Nextcloud that does not know it. The https form of the same URLs is what works.
    secure_endpoint, secure_login = https_form(endpoint, base), https_form(login, base)
    upgraded = secure_endpoint is not None or secure_login is not None
    endpoint, login = secure_endpoint or endpoint, secure_login or login
    # URLs the server gives must not downgrade the connection to plain http.
    for value in (endpoint, login):
        _refuse_downgrade(value, allow_insecure_http)
    if secure_endpoint is not None:
        _probe_poll(secure_endpoint, token, session)
    return LoginFlow(
        login_url=login,
        poll_endpoint=endpoint,
        token=token,
        server_url=base,
        allow_insecure_http=allow_insecure_http,
        upgraded_to_https=upgraded,
    )


def _refuse_downgrade(url: str, allow_insecure_http: bool) -> None:
    """``InsecureURL`` naming the administrator's fix for a server-given plain http URL that
    could not be upgraded (another host than the one reached)."""
    try:
        check_scheme(url, allow_insecure_http=allow_insecure_http)
    except InsecureURL:
        host = urlsplit(url).hostname
        raise InsecureURL(
            f"Login Flow: the server pointed to plain http:// on {host}, not to the https "
            f"address it was reached at; refusing without opt-in. {PROXY_FIX}"
        ) from None


def _probe_poll(endpoint: str, token: str, session: NextcloudSession | None) -> None:
    """Check that the https form of the poll endpoint answers as Nextcloud's (404 ``[]``
    while nobody granted access); raise ``InsecureURL`` naming the administrator's fix if not.

    Polling is harmless: unlike the login URL (whose first visit starts the flow), the poll
    endpoint may be asked any number of times, and nobody can have granted access yet.
    """
    own = session is None
    sess = session or NextcloudSession()
    problem = ""
    try:
        resp = sess.request_checked(
            "POST", endpoint, ok=(200, 404), auth=no_auth, data={"token": token}
        )
        if resp.status_code == 404 and not isinstance(_json(resp), list):
            problem = "it answered 404 without Nextcloud's empty list"
    except ServerError as exc:
        problem = str(exc)
    finally:
        if own:
            sess.close()
    if problem:
        raise InsecureURL(
            f"The server handed out plain http:// addresses for Login Flow although it was "
            f"reached over https, and their https form does not work ({problem}). "
            f"{PROXY_FIX}"
        )


def _default_agent() -> str:
    import platform

    return f"{user_agent()} ({platform.node() or 'unknown host'})"


def poll_login_flow(
    flow: LoginFlow,
    *,
    timeout: float = FLOW_LIFETIME_SECONDS,
    interval: float = 2.0,
    cancel: CancelToken | None = None,
    session: NextcloudSession | None = None,
) -> Credentials:
    """Poll until access is granted; return ``Credentials`` holding the app password.

    Raises ``LoginFlowExpired`` when ``timeout`` passes first, ``Cancelled`` when ``cancel`` is
    set. A few consecutive network errors are tolerated (a flaky link should not lose a flow).
    """
    own = session is None
    sess = session or NextcloudSession()
    deadline = time.monotonic() + timeout
    failures = 0
    try:
        while True:
            if is_cancelled(cancel):
                raise Cancelled("Login Flow polling cancelled.")
            resp: requests.Response | None = None
            try:
                resp = sess.request_checked(
                    "POST",
                    flow.poll_endpoint,
                    ok=(200, 404),
                    auth=no_auth,
                    data={"token": flow.token},
                )
                failures = 0
            except ConnectionLost:
                failures += 1
                if failures >= 5:
                    raise
            if resp is not None and resp.status_code == 200:
                return _credentials(resp, flow)
            if time.monotonic() + interval > deadline:
                raise LoginFlowExpired(
                    "Access was not granted in the browser in time; start the login again.",
                    method="POST",
                    path=path_of(flow.poll_endpoint),
                )
            _wait(interval, cancel)
    finally:
        if own:
            sess.close()


def _wait(seconds: float, cancel: CancelToken | None) -> None:
    wait = getattr(cancel, "wait", None)
    if callable(wait):
        wait(seconds)
    else:
        time.sleep(seconds)


def _json(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def _strings(data: Any, *keys: str) -> tuple[str, ...] | None:
    """The values of ``keys`` when ``data`` is a dict holding non-empty strings there."""
    if not isinstance(data, dict):
        return None
    values = [data.get(k) for k in keys]
    out = tuple(v for v in values if isinstance(v, str) and v)
    return out if len(out) == len(keys) else None


def _credentials(resp: requests.Response, flow: LoginFlow) -> Credentials:
    fields = _strings(_json(resp), "server", "loginName", "appPassword")
    if fields is None:
        raise UnexpectedResponse(
            f"POST {path_of(flow.poll_endpoint)}: the granted login is missing fields.",
            status=resp.status_code,
            method="POST",
            path=path_of(flow.poll_endpoint),
        )
    server, login, password = fields
    # Behind a TLS proxy the granted "server" is http:// too (getServerPath): same host, so
    # the https address the flow was started at is the one to keep.
    server = https_form(server, flow.server_url) or server
    _refuse_downgrade(server, flow.allow_insecure_http)
    base = normalize_server_url(server, allow_insecure_http=flow.allow_insecure_http)
    return Credentials(
        server_url=base,
        login=login,
        password=password,
        allow_insecure_http=flow.allow_insecure_http,
    )
