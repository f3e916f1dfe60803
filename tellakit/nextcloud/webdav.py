"""WebDAV requests on one URL each (I/O); the client composes the URLs.

Every function takes the shared ``NextcloudSession`` and a full URL and maps failures through
it. Statuses that have a protocol meaning here (405 on MKCOL, 404 on DELETE) are handled
before the generic mapping.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import requests

from tellakit.errors import UnexpectedResponse
from tellakit.nextcloud import abort
from tellakit.nextcloud.cancel import Cancelled, CancelToken, is_cancelled
from tellakit.nextcloud.models import DavEntry, PutResult
from tellakit.nextcloud.session import (
    NextcloudSession,
    error_for_exception,
    error_for_response,
    path_of,
)
from tellakit.nextcloud.streaming import ProgressCallback, Readable, StreamBody
from tellakit.nextcloud.xml import parse_multistatus, propfind_body, strip_etag

HASH_HEADERS = {"sha256": "X-Hash-SHA256", "sha1": "X-Hash-SHA1", "md5": "X-Hash-MD5"}


def mkcol(session: NextcloudSession, url: str, *, headers: dict[str, str] | None = None) -> bool:
    """MKCOL: True when created (201), False when it already existed (405).

    A missing parent (409) raises ``UnexpectedResponse``; a refused name ``NameRejected``.
    """
    resp = session.request_checked("MKCOL", url, ok=(201, 405), headers=headers)
    return resp.status_code == 201


def put(
    session: NextcloudSession,
    url: str,
    source: Readable,
    size: int,
    *,
    headers: dict[str, str] | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    ok: tuple[int, ...] = (201, 204),
) -> requests.Response:
    """PUT exactly ``size`` bytes read from ``source``, streamed; return the response.

    Raises ``Cancelled`` when ``cancel`` was set (the connection is dropped mid-body, or
    while waiting for the answer), the source's own exception when reading it failed, else
    the mapped ``ServerError``.
    """
    body = StreamBody(source, size, on_progress=on_progress, cancel=cancel)
    all_headers = {"Content-Type": "application/octet-stream"}
    all_headers.update(headers or {})
    # requests would send an empty iterable with chunked transfer encoding; Nextcloud wants
    # Content-Length, so an empty body goes as b"" ("Content-Length: 0").
    data: StreamBody | bytes = body if size > 0 else b""
    if size == 0 and is_cancelled(cancel):
        raise Cancelled()
    return send_streamed(session, "PUT", url, body, data, headers=all_headers, cancel=cancel, ok=ok)


class SentBody(Protocol):
    """What ``send_streamed`` reads back from a streamed body (``StreamBody`` has it)."""

    @property
    def sent(self) -> int:
        """Bytes handed to the socket."""
        ...

    @property
    def cancelled(self) -> bool:
        """True when the cancel token stopped the body."""
        ...

    @property
    def error(self) -> BaseException | None:
        """What stopped the body from our side, if anything."""
        ...


def send_streamed(
    session: NextcloudSession,
    method: str,
    url: str,
    body: SentBody,
    data: Any,
    *,
    headers: dict[str, str],
    cancel: CancelToken | None,
    ok: tuple[int, ...],
) -> requests.Response:
    """Send ``data`` (``body`` itself, or b"" for an empty one) under ``cancel``.

    Raises ``Cancelled``, the body's own error (its source failed), or the mapped
    ``ServerError``; returns the response when its status is in ``ok``.
    """
    # The watch cuts the connection when ``cancel`` is set while we wait for the answer (the
    # body may sit whole in socket buffers, read slowly by the server): see abort.py.
    with abort.watch(cancel) as watch:
        try:
            resp = session.request(method, url, data=data, headers=headers, allow_redirects=False)
        except Cancelled:
            raise
        except requests.RequestException as exc:
            if body.cancelled or (watch is not None and watch.aborted):
                raise Cancelled(bytes_sent=body.sent) from None
            if body.error is not None:
                raise body.error from None
            raise error_for_exception(exc, method, url, secret=session.scrub_secret) from None
    if body.cancelled:  # the server answered early, before we noticed; still honour the pause
        raise Cancelled(bytes_sent=body.sent)
    # A whole answer that came although the watcher cut the connection (a race) is the
    # truth: the server stored the body, so it is returned, not hidden behind Cancelled.
    if resp.status_code in ok:
        return resp
    raise error_for_response(resp, method, url, secret=session.scrub_secret)


def put_result(resp: requests.Response) -> PutResult:
    """Read ETag, file id, X-Hash-* and X-OC-MTime from a PUT or MOVE response."""
    hashes = {
        algo: resp.headers[h].strip().lower()
        for algo, h in HASH_HEADERS.items()
        if h in resp.headers
    }
    return PutResult(
        status=resp.status_code,
        etag=strip_etag(resp.headers.get("OC-ETag") or resp.headers.get("ETag")),
        file_id=resp.headers.get("OC-FileId"),
        hashes=hashes,
        mtime_accepted=resp.headers.get("X-OC-MTime", "").lower() == "accepted",
        created=resp.status_code == 201,
    )


def propfind(
    session: NextcloudSession, url: str, root_path: str, *, depth: int = 1, ok404: bool = False
) -> list[DavEntry] | None:
    """PROPFIND with Depth 0 or 1; entries relative to ``root_path`` (a URL path).

    With ``ok404`` a missing resource returns None instead of raising.
    """
    if depth not in (0, 1):
        raise ValueError("depth must be 0 or 1")
    ok = (207, 404) if ok404 else (207,)
    resp = session.request_checked(
        "PROPFIND",
        url,
        ok=ok,
        data=propfind_body(),
        headers={"Depth": str(depth), "Content-Type": "application/xml; charset=utf-8"},
    )
    if resp.status_code == 404:
        return None
    try:
        return parse_multistatus(resp.content, root_path)
    except Exception as exc:  # defusedxml/ValueError: a body that is not a usable multistatus
        raise UnexpectedResponse(
            f"PROPFIND {path_of(url)}: the server's answer is not a valid multistatus "
            f"({type(exc).__name__}).",
            status=resp.status_code,
            method="PROPFIND",
            path=path_of(url),
        ) from None


def move(
    session: NextcloudSession,
    url: str,
    destination_url: str,
    *,
    overwrite: bool = True,
    headers: dict[str, str] | None = None,
    timeout: tuple[float, float] | None = None,
) -> requests.Response:
    """MOVE to ``destination_url`` (a full URL); 201 created or 204 replaced."""
    all_headers = {"Destination": destination_url, "Overwrite": "T" if overwrite else "F"}
    all_headers.update(headers or {})
    return session.request_checked(
        "MOVE", url, ok=(201, 204), headers=all_headers, timeout=timeout or session.timeout
    )


def delete(session: NextcloudSession, url: str, *, missing_ok: bool = True) -> bool:
    """DELETE; True when something was deleted, False when it was already gone (404)."""
    resp = session.request_checked("DELETE", url, ok=(200, 204, 404) if missing_ok else (200, 204))
    return resp.status_code != 404


class RemoteStream:
    """A downloaded file, streamed: iterate for chunks, or ``read(n)``; close when done."""

    def __init__(self, session: NextcloudSession, resp: requests.Response, url: str) -> None:
        self._session = session
        self._resp = resp
        self._url = url
        length = resp.headers.get("Content-Length")
        self.size: int | None = int(length) if length and length.isdigit() else None
        self._iter: Iterator[bytes] | None = None
        self._pending = b""

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._resp.iter_content(1024 * 1024)
        except requests.RequestException as exc:
            raise error_for_exception(
                exc, "GET", self._url, secret=self._session.scrub_secret
            ) from None

    def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes (all when n < 0); b"" at the end."""
        if self._iter is None:
            self._iter = iter(self)
        out = bytearray(self._pending)
        self._pending = b""
        while n < 0 or len(out) < n:
            piece = next(self._iter, b"")
            if not piece:
                break
            out += piece
        if n >= 0 and len(out) > n:
            self._pending = bytes(out[n:])
            del out[n:]
        return bytes(out)

    def close(self) -> None:
        """Release the connection."""
        self._resp.close()

    def __enter__(self) -> RemoteStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def get(session: NextcloudSession, url: str) -> RemoteStream:
    """GET a file as a stream (nothing is buffered whole)."""
    resp = session.request_checked("GET", url, ok=(200,), stream=True)
    return RemoteStream(session, resp, url)
