"""Digests the server computed from the bytes it holds: the evidence a file arrived intact.

Three kinds exist (``models.DigestKind``): the ``X-Hash-SHA256`` answer of the upload itself
(``PutResult.server_digest``), the answer of ``PATCH`` with ``X-Recalculate-Hash``
(:func:`recalculate_hash`, Nextcloud 24+), and tellakit's own streamed download and hash
(:func:`download_sha256`). What ``oc:checksums`` holds is not among them: Nextcloud stores the
client's ``OC-Checksum`` verbatim, so reading it back compares the vault's hash with itself.

A download moves the whole file a second time over the link, so it comes last.
"""

from __future__ import annotations

import hashlib
import re

import requests

from tellakit.errors import ConnectionLost, UnexpectedResponse
from tellakit.nextcloud import abort
from tellakit.nextcloud.cancel import Cancelled, CancelToken, is_cancelled
from tellakit.nextcloud.models import DigestKind, ServerDigest
from tellakit.nextcloud.session import (
    NextcloudSession,
    error_for_exception,
    error_for_response,
    path_of,
)
from tellakit.nextcloud.streaming import ProgressCallback

#: Algorithms asked of ``X-Recalculate-Hash`` (PHP names; Nextcloud 30 answers 500 to others).
RECALCULATE_ALGORITHMS = ("md5", "sha1", "sha256")
#: Answers of a server (or a proxy before it) that has no ``PATCH`` handler for the file:
#: 501 (Sabre: no plugin), 405 (a web server or proxy refusing the method), 400 (newer
#: Nextcloud refusing an algorithm), 403 (newer Nextcloud: no read or update permission).
NOT_SUPPORTED = (400, 403, 405, 501)
#: Bytes read from the answer at a time (the only buffer a download holds).
DOWNLOAD_PIECE = 1024 * 1024
#: How often a cut download continues from the byte reached, by default.
DEFAULT_RESUMES = 3

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.IGNORECASE)


def recalculate_hash(session: NextcloudSession, url: str, algo: str = "sha256") -> str | None:
    """``PATCH`` with ``X-Recalculate-Hash: <algo>``: the server's hex digest of the stored file.

    None when the server does not support it (an answer in ``NOT_SUPPORTED``, or a success
    without an ``OC-Checksum`` of that algorithm). Other failures raise the mapped error
    (404 when the file is gone, 423 while it is being written, 5xx ...). The server also
    stores the result as the file's ``oc:checksums``.
    """
    algo = algo.lower()
    if algo not in RECALCULATE_ALGORITHMS:
        raise ValueError(f"algo must be one of {', '.join(RECALCULATE_ALGORITHMS)}")
    resp = session.request_checked(
        "PATCH",
        url,
        ok=(200, 204, *NOT_SUPPORTED),
        headers={"X-Recalculate-Hash": algo},
        allow_redirects=False,
    )
    if resp.status_code in NOT_SUPPORTED:
        return None
    kind, _, digest = resp.headers.get("OC-Checksum", "").strip().partition(":")
    digest = digest.strip().lower()
    width = hashlib.new(algo, usedforsecurity=False).digest_size * 2
    if kind.lower() != algo or not re.fullmatch(f"[0-9a-f]{{{width}}}", digest):
        return None
    return digest


class _Download:
    """The state of one hashed download across resumed requests."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.digest = hashlib.sha256()
        self.received = 0
        self.total: int | None = None
        self.etag: str | None = None

    def restart(self) -> None:
        """The server sent the whole file again (it ignored the Range): hash from byte 0."""
        self.digest = hashlib.sha256()
        self.received = 0

    @property
    def complete(self) -> bool:
        return self.total is not None and self.received >= self.total

    def headers(self) -> dict[str, str]:
        # identity: the exact stored bytes, and byte ranges that mean the same thing.
        headers = {"Accept-Encoding": "identity"}
        if self.received:
            headers["Range"] = f"bytes={self.received}-"
            if self.etag:
                headers["If-Match"] = self.etag  # a file replaced meanwhile answers 412
        return headers

    def begin(self, resp: requests.Response) -> None:
        """Check where the answer starts; learn the total size and the ETag."""
        where = path_of(self.url)
        if resp.status_code == 412:
            raise UnexpectedResponse(
                f"GET {where}: the file changed on the server while it was being downloaded "
                "for verification.",
                status=412,
                method="GET",
                path=where,
            )
        if resp.status_code == 206:
            match = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
            if match is None or int(match.group(1)) != self.received:
                raise UnexpectedResponse(
                    f"GET {where}: the server answered another byte range than the one asked for.",
                    status=206,
                    method="GET",
                    path=where,
                )
            if match.group(3) != "*":
                self.total = int(match.group(3))
        else:
            if self.received:
                self.restart()
            length = resp.headers.get("Content-Length", "")
            self.total = int(length) if length.isdigit() else None
        self.etag = self.etag or resp.headers.get("ETag")


def download_sha256(
    session: NextcloudSession,
    url: str,
    *,
    cancel: CancelToken | None = None,
    on_progress: ProgressCallback | None = None,
    resume: int = DEFAULT_RESUMES,
) -> ServerDigest:
    """Download ``url`` and hash it in constant memory: a ``ServerDigest`` of kind DOWNLOAD.

    A connection cut mid-download continues from the byte reached with ``Range`` (the hash
    state is kept), at most ``resume`` times; ``If-Match`` with the first answer's ETag makes
    sure the pieces come from one version of the file. ``on_progress(bytes_so_far)`` follows
    every piece. ``cancel`` stops it within about a second (``Cancelled``), also while the
    server has not answered yet.
    """
    state = _Download(url)
    cuts = 0
    while True:
        if is_cancelled(cancel):
            raise Cancelled("Download cancelled.", bytes_sent=0)
        try:
            _fetch(session, state, cancel, on_progress)
        except _Cut as cut:
            if state.complete:  # every byte arrived; only the end of the answer was lost
                break
            cuts += 1
            if cuts > resume:
                raise cut.error from None
            continue
        break
    if state.total is not None and state.received != state.total:
        raise ConnectionLost(
            f"GET {path_of(url)}: the download ended after {state.received} of "
            f"{state.total} bytes.",
            method="GET",
            path=path_of(url),
        )
    return ServerDigest(DigestKind.DOWNLOAD, state.digest.hexdigest(), state.received)


class _Cut(Exception):
    """The connection broke during a download; ``error`` is what to raise if it stays broken."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _fetch(
    session: NextcloudSession,
    state: _Download,
    cancel: CancelToken | None,
    on_progress: ProgressCallback | None,
) -> None:
    """One GET from ``state.received`` on, feeding the hash; raises _Cut when it breaks."""
    with abort.watch(cancel) as watch:
        try:
            resp = session.request(
                "GET", state.url, headers=state.headers(), stream=True, allow_redirects=False
            )
        except requests.RequestException as exc:
            if is_cancelled(cancel) or (watch is not None and watch.aborted):
                raise Cancelled("Download cancelled.") from None
            error = error_for_exception(exc, "GET", state.url, secret=session.scrub_secret)
            if isinstance(error, ConnectionLost):
                raise _Cut(error) from None
            raise error from None
        with resp:
            if resp.status_code not in (200, 206, 412):
                raise error_for_response(resp, "GET", state.url, secret=session.scrub_secret)
            state.begin(resp)
            try:
                for piece in resp.iter_content(DOWNLOAD_PIECE):
                    if is_cancelled(cancel):
                        raise Cancelled("Download cancelled.")
                    state.digest.update(piece)
                    state.received += len(piece)
                    if on_progress is not None:
                        on_progress(state.received)
            except requests.RequestException as exc:
                if is_cancelled(cancel) or (watch is not None and watch.aborted):
                    raise Cancelled("Download cancelled.") from None
                raise _Cut(
                    error_for_exception(exc, "GET", state.url, secret=session.scrub_secret)
                ) from None
    if not state.complete and state.total is not None:
        raise _Cut(
            ConnectionLost(
                f"GET {path_of(state.url)}: the answer ended early.",
                method="GET",
                path=path_of(state.url),
            )
        )
