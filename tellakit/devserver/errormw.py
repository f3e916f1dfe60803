"""wsgidav middleware that turns DAVErrors into Sabre's XML error bodies with
Nextcloud's messages (replaces wsgidav's ErrorPrinter)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from wsgidav import util
from wsgidav.dav_error import DAVError, as_DAVError
from wsgidav.mw.base_mw import BaseMiddleware

from tellakit.devserver.responses import Environ, StartResponse, sabre_error_body, status_line

_logger = logging.getLogger("tellakit.devserver")

_MESSAGES = {
    ("MKCOL", 405): "The resource you tried to create already exists",
    ("MKCOL", 409): "Parent node does not exist",
    ("PUT", 409): "Files cannot be created in non-existent collections",
    ("MOVE", 409): "The destination node is not found",
    ("COPY", 409): "The destination node is not found",
    ("MOVE", 412): "The destination node already exists, and the overwrite header is set to false",
    ("COPY", 412): "The destination node already exists, and the overwrite header is set to false",
}


def nextcloud_status(method: str, code: int) -> int:
    """Where Nextcloud's answer differs from wsgidav's."""
    if method == "PUT" and code == 405:  # PUT on a folder
        return 409
    return code


def nextcloud_message(environ: Environ, method: str, code: int, err: DAVError) -> str:
    """The message Nextcloud (Sabre) puts in its error body."""
    if (method, code) in _MESSAGES:
        return _MESSAGES[(method, code)]
    if code == 404:
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        return f"File with name {path} could not be located"
    if method == "PUT" and code == 409:
        return "PUT is not allowed on non-files."
    if code == 423:
        return "The resource you tried to edit is locked"
    return str(err.context_info or status_line(code))


class NcErrorMiddleware(BaseMiddleware):
    """Catches DAVErrors raised below and answers them the way Nextcloud does."""

    def __init__(self, wsgidav_app: Any, next_app: Any, config: dict[str, Any]) -> None:
        super().__init__(wsgidav_app, next_app, config)

    def is_disabled(self) -> bool:
        return False

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        sub = util.SubAppStartResponse()
        method = environ.get("REQUEST_METHOD", "GET").upper()
        try:
            try:
                started = False
                app_iter = self.next_app(environ, sub)
                for chunk in app_iter:
                    if not started:
                        start_response(sub.status, sub.response_headers, sub.exc_info)
                        started = True
                    yield chunk
                if hasattr(app_iter, "close"):
                    app_iter.close()
                if not started:
                    start_response(sub.status, sub.response_headers, sub.exc_info)
            except DAVError:
                raise
            except ConnectionError:
                raise
            except Exception as e:
                if type(e).__name__ == "ConnectionCut":
                    raise
                _logger.exception("error below wsgidav")
                raise as_DAVError(e) from None
            else:
                return
        except DAVError as e:
            src = getattr(e, "src_exception", None)
            if src is not None and type(src).__name__ == "ConnectionCut":
                raise src from None
            code = nextcloud_status(method, int(e.value))
            if code in (204, 304):
                start_response(status_line(code), [("Content-Length", "0")])
                return
            if e.err_condition is not None:
                content_type, body = e.get_response_page()
            else:
                message = nextcloud_message(environ, method, code, e)
                exception = "Sabre\\DAV\\Exception\\Locked" if code == 423 else None
                body = sabre_error_body(code, message, exception=exception)
                content_type = "application/xml; charset=utf-8"
            headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
            start_response(status_line(code), headers + list(e.add_headers or []))
            yield body
