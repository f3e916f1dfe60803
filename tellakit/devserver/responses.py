"""Small WSGI response helpers and Sabre/Nextcloud error bodies."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from xml.sax.saxutils import escape

StartResponse = Callable[..., Any]
Environ = dict[str, Any]
WsgiResult = Iterable[bytes]

# The Sabre exception class Nextcloud names for each status it answers.
SABRE_EXCEPTIONS = {
    400: "Sabre\\DAV\\Exception\\BadRequest",
    401: "Sabre\\DAV\\Exception\\NotAuthenticated",
    403: "Sabre\\DAV\\Exception\\Forbidden",
    404: "Sabre\\DAV\\Exception\\NotFound",
    405: "Sabre\\DAV\\Exception\\MethodNotAllowed",
    409: "Sabre\\DAV\\Exception\\Conflict",
    412: "Sabre\\DAV\\Exception\\PreconditionFailed",
    415: "Sabre\\DAV\\Exception\\UnsupportedMediaType",
    423: "OCA\\DAV\\Connector\\Sabre\\Exception\\FileLocked",
    429: "OCA\\DAV\\Connector\\Sabre\\Exception\\TooManyRequests",
    500: "Sabre\\DAV\\Exception",
    501: "Sabre\\DAV\\Exception\\NotImplemented",
    502: "Sabre\\DAV\\Exception\\BadGateway",
    503: "Sabre\\DAV\\Exception\\ServiceUnavailable",
    507: "Sabre\\DAV\\Exception\\InsufficientStorage",
}
INVALID_PATH = "OCA\\DAV\\Connector\\Sabre\\Exception\\InvalidPath"
PASSWORD_LOGIN_FORBIDDEN = "OCA\\DAV\\Connector\\Sabre\\Exception\\PasswordLoginForbidden"  # noqa: S105


def status_line(code: int) -> str:
    """``"404 Not Found"`` for 404 (unknown codes get a generic phrase)."""
    try:
        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = "Unknown"
    return f"{code} {phrase}"


def respond(
    start_response: StartResponse,
    code: int,
    body: bytes = b"",
    *,
    content_type: str | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    """Start a complete response with a known body."""
    hdrs = list(headers or [])
    if content_type:
        hdrs.append(("Content-Type", content_type))
    hdrs.append(("Content-Length", str(len(body))))
    start_response(status_line(code), hdrs)
    return [body]


def sabre_error_body(code: int, message: str, *, exception: str | None = None) -> bytes:
    """The XML body Sabre writes for an exception."""
    exc = exception or SABRE_EXCEPTIONS.get(code, "Sabre\\DAV\\Exception")
    extra = ""
    if exc == INVALID_PATH:
        extra = (
            '\n  <o:retry xmlns:o="o:">false</o:retry>'
            f'\n  <o:reason xmlns:o="o:">{escape(message)}</o:reason>'
        )
    elif exc == PASSWORD_LOGIN_FORBIDDEN:
        extra = '\n  <o:hint xmlns:o="o:">password login forbidden</o:hint>'
    elif code == 429:
        extra = '\n  <o:hint xmlns:o="o:">too many requests</o:hint>'
    ns_o = (
        ' xmlns:o="http://owncloud.org/ns"'
        if exc in (INVALID_PATH, PASSWORD_LOGIN_FORBIDDEN)
        else ""
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns"{ns_o}>\n'
        f"  <s:exception>{escape(exc)}</s:exception>\n"
        f"  <s:message>{escape(message)}</s:message>{extra}\n"
        "</d:error>\n"
    ).encode()


def dav_error(
    start_response: StartResponse,
    code: int,
    message: str,
    *,
    exception: str | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    """Answer a DAV request with Sabre's XML error body."""
    return respond(
        start_response,
        code,
        sabre_error_body(code, message, exception=exception),
        content_type="application/xml; charset=utf-8",
        headers=headers,
    )


def invalid_path(start_response: StartResponse, reason: str) -> list[bytes]:
    """Nextcloud's 400 InvalidPath answer for a rejected name."""
    return dav_error(start_response, 400, reason, exception=INVALID_PATH)


def drain(environ: Environ) -> None:
    """Read (and drop) the rest of the request body, as PHP does before a script answers,
    so clients see the answer instead of a broken pipe."""
    stream = environ["wsgi.input"]
    while stream.read(1 << 20):
        pass
