"""Login Flow v2: start, a login page a person approves in a browser, and the poll.

Two-factor accounts get a second page asking for their TOTP code after the password, as
Nextcloud's challenge page does. The ``behind-proxy`` profile builds every URL (and the
``server`` of the credentials) with ``http://``, as Nextcloud behind a TLS-terminating proxy
without ``overwriteprotocol`` does (ClientFlowLoginV2Controller: linkToRouteAbsolute,
getServerPath).
"""

from __future__ import annotations

import json
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from html import escape
from urllib.parse import parse_qs

from tellakit.devserver.context import Context
from tellakit.devserver.responses import Environ, StartResponse, drain, respond

_TOKEN_ALPHABET = string.ascii_letters + string.digits


def _token() -> str:
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(128))


@dataclass
class Flow:
    """One login flow."""

    poll_token: str = field(repr=False)
    login_token: str = field(repr=False)
    client_name: str
    created: float
    server: str = ""
    credentials: dict[str, str] | None = field(default=None, repr=False)
    challenge: tuple[str, str] | None = None  # (uid, login) whose TOTP code is awaited


def base_url(environ: Environ, scheme: str | None = None) -> str:
    """Scheme and host the client used (Nextcloud's overwrite.cli.url is unset here);
    ``scheme`` replaces the request's (what PHP sees behind a TLS-terminating proxy)."""
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    return f"{scheme or environ.get('wsgi.url_scheme', 'http')}://{host}"


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{title} - Nextcloud (tellakit devserver)</title>
<style>body{{font-family:sans-serif;max-width:28em;margin:4em auto}}
label{{display:block;margin:.6em 0}}
input{{width:100%;padding:.4em}} button{{padding:.5em 1.2em;margin-top:1em}}
.err{{color:#b00}}</style>
</head><body><h1>{title}</h1>{body}</body></html>"""


class LoginFlows:
    """The flows of one server (thread-safe)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._lock = threading.Lock()
        self._flows: list[Flow] = []

    def _live(self) -> list[Flow]:
        now = time.time()
        self._flows = [
            f for f in self._flows if now - f.created < self.ctx.login_flow_expiry_seconds
        ]
        return self._flows

    def _by_login_token(self, token: str) -> Flow | None:
        with self._lock:
            return next((f for f in self._live() if f.login_token == token), None)

    def start(self, client_name: str) -> Flow:
        """Create a flow."""
        flow = Flow(_token(), _token(), client_name, time.time())
        with self._lock:
            self._live().append(flow)
        return flow

    def grant(self, flow: Flow, uid: str, login: str, server: str) -> None:
        """Create the app password the poll will deliver."""
        secret = self.ctx.users.create_app_password(uid, login=login, name=flow.client_name)
        with self._lock:
            flow.credentials = {"server": server, "loginName": login, "appPassword": secret}

    def approve(self, uid: str, token: str | None = None, server: str | None = None) -> None:
        """Grant a flow as ``uid`` (the latest pending one, or the one with this login or
        poll token)."""
        user = self.ctx.users.get(uid)
        if user is None:
            raise KeyError(uid)
        with self._lock:
            pending = [
                f
                for f in self._live()
                if f.credentials is None and token in (None, f.login_token, f.poll_token)
            ]
        if not pending:
            raise LookupError("no pending login flow")
        flow = pending[-1]
        self.grant(flow, uid, user.login, server or flow.server)

    # --- HTTP ----------------------------------------------------------------------------------
    def handle(self, environ: Environ, start_response: StartResponse, route: str) -> list[bytes]:
        """``route``: the path after an optional /index.php, starting with /login/v2."""
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if route.rstrip("/") == "/login/v2" and method == "POST":
            drain(environ)
            return self._start(environ, start_response)
        if route == "/login/v2/poll" and method == "POST":
            return self._poll(environ, start_response)
        if route.startswith("/login/v2/flow/"):
            token = route[len("/login/v2/flow/") :].strip("/")
            if method == "GET":
                return self._page(environ, start_response, token)
            if method == "POST":
                return self._submit(environ, start_response, token)
        drain(environ)
        return respond(start_response, 404, b"[]", content_type="application/json")

    def _start(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        flow = self.start(environ.get("HTTP_USER_AGENT", "unknown client"))
        base = base_url(environ, self.ctx.profile.login_flow_scheme)
        flow.server = base
        data = {
            "poll": {"token": flow.poll_token, "endpoint": f"{base}/index.php/login/v2/poll"},
            "login": f"{base}/index.php/login/v2/flow/{flow.login_token}",
        }
        return respond(
            start_response, 200, json.dumps(data).encode(), content_type="application/json"
        )

    def _poll(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        form = _read_form(environ)
        token = (form.get("token") or [""])[0]
        with self._lock:
            flow = next((f for f in self._live() if f.poll_token == token), None)
            creds = flow.credentials if flow else None
            if flow is not None and creds is not None:
                self._flows.remove(flow)  # credentials are delivered once
        if creds is None:
            return respond(start_response, 404, b"[]", content_type="application/json")
        return respond(
            start_response, 200, json.dumps(creds).encode(), content_type="application/json"
        )

    def _page(
        self, environ: Environ, start_response: StartResponse, token: str, error: str = ""
    ) -> list[bytes]:
        flow = self._by_login_token(token)
        if flow is None:
            return _html(
                start_response,
                404,
                "Access forbidden",
                "<p>Your login token is invalid or has expired.</p>",
            )
        err = f'<p class="err">{escape(error)}</p>' if error else ""
        if flow.challenge is not None:
            body = (
                "<p>Two-factor authentication: enter the code from your authenticator app.</p>"
                f'{err}<form method="post"><label>Authentication code <input name="challenge" '
                'autocomplete="one-time-code" inputmode="numeric" autofocus></label>'
                '<button type="submit" id="submit-wrapper">Submit</button></form>'
            )
            return _html(start_response, 403 if error else 200, "Two-factor authentication", body)
        body = (
            f"<p><strong>{escape(flow.client_name)}</strong> wants to connect to your "
            "account.</p>"
            f'{err}<form method="post"><label>Login <input name="user" autocomplete="username" '
            'autofocus></label><label>Password <input name="password" type="password" '
            'autocomplete="current-password"></label>'
            '<button type="submit" id="submit-wrapper">Grant access</button></form>'
        )
        return _html(start_response, 403 if error else 200, "Connect to your account", body)

    def _submit(self, environ: Environ, start_response: StartResponse, token: str) -> list[bytes]:
        form = _read_form(environ)
        flow = self._by_login_token(token)
        if flow is None:
            return self._page(environ, start_response, token)
        if flow.challenge is not None:
            uid, login = flow.challenge
            code = (form.get("challenge") or [""])[0]
            if not self.ctx.users.check_totp(uid, code):
                return self._page(environ, start_response, token, "Invalid authentication code.")
            flow.challenge = None
            return self._granted(start_response, flow, uid, login, environ)
        login = (form.get("user") or [""])[0]
        user = self.ctx.users.check_password(login, (form.get("password") or [""])[0])
        if user is None:
            return self._page(environ, start_response, token, "Wrong login or password.")
        if user.two_factor:
            flow.challenge = (user.uid, login)
            return self._page(environ, start_response, token)
        return self._granted(start_response, flow, user.uid, login, environ)

    def _granted(
        self, start_response: StartResponse, flow: Flow, uid: str, login: str, environ: Environ
    ) -> list[bytes]:
        server = flow.server or base_url(environ, self.ctx.profile.login_flow_scheme)
        self.grant(flow, uid, login, server)
        return _html(
            start_response,
            200,
            "Account connected",
            "<p>Your client should now be connected. You can close this window.</p>",
        )


def _read_form(environ: Environ) -> dict[str, list[str]]:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    raw = environ["wsgi.input"].read(min(length, 1 << 16)) if length else b""
    drain(environ)
    return parse_qs(raw.decode("utf-8", "replace"))


def _html(start_response: StartResponse, code: int, title: str, body: str) -> list[bytes]:
    page = _PAGE.format(title=escape(title), body=body).encode()
    return respond(start_response, code, page, content_type="text/html; charset=utf-8")
