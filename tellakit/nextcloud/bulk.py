"""Bulk upload: many small files in one ``POST /remote.php/dav/bulk`` (Nextcloud 23+).

Offered when the capabilities say ``dav.bulkupload`` (``Capabilities.bulkupload``). The body
is ``multipart/related``: per file a part with ``X-File-Path`` (below the user's files root),
``X-File-Mtime``, ``Content-Length`` and ``X-File-MD5``, which the server checks against the
bytes it received before it writes the file. It is streamed, one file after the other, in
constant memory; the MD5 is computed by a first read of each source (so sources must be
seekable, or the caller passes ``md5_hex``).

What the answer means, file by file (``BulkFileResult.status``), and what to do:

- ``STORED``: written (a new file or an overwrite); ``etag`` and ``file_id`` as a PUT's.
  The MD5 check covers the transport of this request only; the server computes no SHA-256.
- ``REFUSED``: the server could not write this one file (a refused name, the quota, a
  missing parent folder, a lock) and went on with the others; ``message`` is its reason.
  Send that file alone with a PUT: its answer names the precise error (400 InvalidPath ->
  NameRejected, 507 -> QuotaExceeded, ...). The desktop client does the same.
- ``REJECTED``: the server stopped the request at this part, its bytes did not arrive as
  announced (MD5 mismatch, or the framing broke); nothing of it was written. Re-send.
- ``NOT_PROCESSED``: the request stopped before this part; nothing of it was written.
  Re-send.

Whole-request failures raise, mapped as for any request: ``ConnectionLost`` when the
connection dropped (then any of the files may have been written, completely or not at all,
never partly: re-send them all, an overwrite with the same bytes is harmless), 401, 429, 503,
507 and so on as usual, ``Cancelled`` when ``cancel`` was set, and ``BulkUploadUnsupported``
when the server has no bulk endpoint (send single PUTs instead).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import requests

from tellakit.errors import BulkUploadUnsupported, ServerError, UnexpectedResponse
from tellakit.nextcloud.cancel import Cancelled, CancelToken, is_cancelled
from tellakit.nextcloud.session import NextcloudSession, error_for_response, path_of
from tellakit.nextcloud.streaming import ProgressCallback, Readable, StreamBody
from tellakit.nextcloud.urls import split_dav_path
from tellakit.nextcloud.webdav import send_streamed
from tellakit.nextcloud.xml import strip_etag

BULK_PATH = "/remote.php/dav/bulk"
MD5_READ = 1024 * 1024
#: Statuses of servers without the endpoint (Sabre: no plugin handles POST there).
UNSUPPORTED = (404, 405, 501)


@dataclass(frozen=True)
class BulkItem:
    """One file of a bulk request: ``size`` bytes from ``source`` to ``path``.

    ``path`` is relative to the user's files root (``"Tella/Report/photo.jpg"``); its parent
    folder must exist. Without ``md5_hex`` the source is read once to compute it and must be
    seekable (it is read from its current position and put back there).
    """

    path: str
    source: Readable
    size: int
    mtime: float | None = None
    md5_hex: str | None = None


class BulkStatus(str, Enum):
    """What became of one file of a bulk request (see the module docstring)."""

    STORED = "stored"
    REFUSED = "refused"
    REJECTED = "rejected"
    NOT_PROCESSED = "not_processed"


@dataclass(frozen=True)
class BulkFileResult:
    """The server's answer for one file."""

    path: str
    status: BulkStatus
    etag: str | None = None
    file_id: str | None = None
    permissions: str | None = None
    message: str | None = None

    @property
    def stored(self) -> bool:
        """True when the server wrote the file."""
        return self.status is BulkStatus.STORED


@dataclass(frozen=True)
class BulkReply:
    """The answer to one bulk request: ``status`` 200, or 400 when it stopped at a part."""

    status: int
    results: tuple[BulkFileResult, ...]  # in the order of the items sent

    def by_path(self) -> dict[str, BulkFileResult]:
        """path -> result."""
        return {r.path: r for r in self.results}

    @property
    def to_resend(self) -> list[str]:
        """Paths whose bytes never got written: re-send them (bulk or PUT)."""
        resend = (BulkStatus.REJECTED, BulkStatus.NOT_PROCESSED)
        return [r.path for r in self.results if r.status in resend]

    @property
    def refused(self) -> list[BulkFileResult]:
        """Files the server refused one by one (send each alone to learn the exact error)."""
        return [r for r in self.results if r.status is BulkStatus.REFUSED]


def bulk_url(base_url: str) -> str:
    """The bulk endpoint of a server (``base_url`` as ``NextcloudClient.base_url``)."""
    return base_url.rstrip("/") + BULK_PATH


def upload(
    session: NextcloudSession,
    base_url: str,
    items: Sequence[BulkItem],
    *,
    on_progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> BulkReply:
    """Send ``items`` in one bulk request and return the answer per file.

    ``on_progress`` gets the body bytes sent so far; ``cancel`` stops the request within about
    a second (``Cancelled``). See the module docstring for the results and the errors.
    """
    if not items:
        return BulkReply(200, ())
    paths = ["/".join(split_dav_path(item.path)) for item in items]
    if len(set(paths)) != len(paths):
        raise ValueError("a bulk request cannot hold the same path twice")
    url = bulk_url(base_url)
    body = MultipartBody([_prepared(item) for item in items], on_progress, cancel)
    headers = {"Content-Type": f"multipart/related; boundary={body.boundary}"}
    resp = send_streamed(
        session,
        "POST",
        url,
        body,
        body,
        headers=headers,
        cancel=cancel,
        ok=(200, 400, *UNSUPPORTED),
    )
    if resp.status_code in UNSUPPORTED:
        raise _failure(
            BulkUploadUnsupported,
            resp,
            f"POST {path_of(url)}: the server has no bulk upload ({resp.status_code}); "
            "send the files one by one.",
        )
    answer = _answer(resp)
    if answer is None:  # a 400 without the per-file JSON: the request itself was refused
        raise error_for_response(resp, "POST", url, secret=session.scrub_secret)
    return BulkReply(resp.status_code, _results(items, answer, resp, url))


@dataclass(frozen=True)
class _Part:
    item: BulkItem
    head: bytes  # boundary line and part headers, up to the empty line


def _prepared(item: BulkItem) -> _Part:
    segments = split_dav_path(item.path)  # refuses "", "." and ".."
    remote = "/" + "/".join(segments)
    if any(c in remote for c in "\r\n\0"):
        raise ValueError(f"a bulk upload path cannot hold line breaks: {item.path!r}")
    if item.size < 0:
        raise ValueError("size must be >= 0")
    md5 = item.md5_hex.lower() if item.md5_hex else _md5_of(item.source, item.size)
    lines = [
        ("X-File-Path", remote),
        ("X-File-MD5", md5),
        ("Content-Length", str(item.size)),
        ("Content-Type", "application/octet-stream"),
    ]
    if item.mtime is not None:
        lines.append(("X-File-Mtime", str(int(item.mtime))))
    head = "".join(f"{k}: {v}\r\n" for k, v in lines) + "\r\n"
    return _Part(BulkItem(remote, item.source, item.size, item.mtime, md5), head.encode())


def _md5_of(source: Readable, size: int) -> str:
    """The MD5 of the next ``size`` bytes of ``source``, which is then put back."""
    seek = getattr(source, "seek", None)
    tell = getattr(source, "tell", None)
    if seek is None or tell is None:
        raise ValueError("a bulk item without md5_hex needs a seekable source")
    start = tell()
    digest = hashlib.md5(usedforsecurity=False)
    left = size
    while left > 0:
        data = source.read(min(MD5_READ, left))
        if not data:
            break
        digest.update(data)
        left -= len(data)
    seek(start)
    return digest.hexdigest()


class MultipartBody:
    """The ``multipart/related`` body of a bulk request, streamed part after part.

    Has ``__len__`` (requests sends Content-Length), and the ``sent`` / ``cancelled`` /
    ``error`` that ``send_streamed`` reads: each file's bytes go through a ``StreamBody``
    (constant memory, ``cancel`` checked between pieces, ``ShortRead`` if a source ends early).
    """

    def __init__(
        self,
        parts: Sequence[_Part],
        on_progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ) -> None:
        self.boundary = f"tellakit_{secrets.token_hex(16)}"
        self._parts = parts
        self._on_progress = on_progress
        self._cancel = cancel
        self._opening = f"--{self.boundary}\r\n".encode()
        self._closing = f"--{self.boundary}--\r\n".encode()
        self.size = sum(len(self._opening) + len(p.head) + p.item.size + 2 for p in parts) + len(
            self._closing
        )
        self.sent = 0
        self._inner: StreamBody | None = None
        self._cancelled = False
        self._error: BaseException | None = None
        self._started = False

    def __len__(self) -> int:
        return self.size

    @property
    def cancelled(self) -> bool:
        """True when the cancel token stopped the body."""
        return self._cancelled or (self._inner is not None and self._inner.cancelled)

    @property
    def error(self) -> BaseException | None:
        """What stopped the body from our side (a source's failure), if anything."""
        return self._error or (self._inner.error if self._inner is not None else None)

    def _count(self, n: int) -> None:
        self.sent += n
        if self._on_progress is not None:
            self._on_progress(self.sent)

    def _progress_from(self, base: int) -> ProgressCallback:
        """A file's progress callback: its bytes sent, counted from ``base`` of the body."""

        def progress(n: int) -> None:
            self._count(base + n - self.sent)

        return progress

    def __iter__(self) -> Iterator[bytes | memoryview]:
        if self._started:
            raise RuntimeError("a bulk body can be sent only once")
        self._started = True
        for part in self._parts:
            if is_cancelled(self._cancel):  # also between files without bytes
                self._cancelled = True
                raise Cancelled(bytes_sent=self.sent)
            head = self._opening + part.head
            yield head
            self._count(len(head))
            if part.item.size:
                self._inner = StreamBody(
                    part.item.source,
                    part.item.size,
                    on_progress=self._progress_from(self.sent),
                    cancel=self._cancel,
                )
                yield from self._inner
            yield b"\r\n"
            self._count(2)
        yield self._closing
        self._count(len(self._closing))


def _failure(cls: type[ServerError], resp: requests.Response, message: str) -> ServerError:
    """``cls`` with ``message`` for the bulk request that got ``resp``."""
    path = path_of(resp.request.url or BULK_PATH)
    return cls(message, status=resp.status_code, method="POST", path=path)


def _answer(resp: requests.Response) -> dict[str, Any] | None:
    """The per-file JSON object of a bulk answer (PHP sends ``[]`` for none), or None."""
    try:
        data = json.loads(resp.content)
    except ValueError:
        return None
    if data == []:
        return {}
    return data if isinstance(data, dict) else None


def _results(
    items: Sequence[BulkItem], answer: dict[str, Any], resp: requests.Response, url: str
) -> tuple[BulkFileResult, ...]:
    results: list[BulkFileResult] = []
    stopped = False  # a 400 names the files done before the part it stopped at
    for item in items:
        path = "/".join(split_dav_path(item.path))
        entry = answer.get("/" + path)
        if entry is None:
            if resp.status_code == 400 and not stopped:
                results.append(BulkFileResult(path, BulkStatus.REJECTED))
                stopped = True
            else:
                results.append(BulkFileResult(path, BulkStatus.NOT_PROCESSED))
            continue
        if not isinstance(entry, dict) or "error" not in entry:
            raise _failure(
                UnexpectedResponse,
                resp,
                f"POST {path_of(url)}: the answer for {path!r} is not a bulk upload result.",
            )
        if entry["error"]:
            message = str(entry.get("message") or "refused")
            results.append(BulkFileResult(path, BulkStatus.REFUSED, message=message))
            continue
        results.append(
            BulkFileResult(
                path,
                BulkStatus.STORED,
                etag=strip_etag(str(entry["etag"])) if entry.get("etag") else None,
                file_id=str(entry["fileid"]) if entry.get("fileid") else None,
                permissions=entry.get("permissions"),
            )
        )
    return tuple(results)
