"""``NextcloudClient``: the front object over one session and one account.

Thin by design (pyodk's client): it builds URLs and delegates to ``account``, ``webdav`` and
``chunked``. Paths given to its methods are relative to the user's files root
(``remote.php/dav/files/<user id>``), e.g. ``"Tella/Title (2)/IMG.jpg"``.

Threads: one client may be used from a few worker threads at once (one pooled session).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from tellakit.nextcloud import account, bulk, verify, webdav
from tellakit.nextcloud.bulk import BulkItem, BulkReply
from tellakit.nextcloud.cancel import CancelToken
from tellakit.nextcloud.models import (
    Capabilities,
    Credentials,
    DavEntry,
    DigestKind,
    PutResult,
    ServerDigest,
    UserInfo,
)
from tellakit.nextcloud.session import DEFAULT_TIMEOUT, NextcloudSession
from tellakit.nextcloud.streaming import ProgressCallback, Readable
from tellakit.nextcloud.urls import normalize_server_url, quote_dav_path, split_dav_path
from tellakit.nextcloud.webdav import RemoteStream


class NextcloudClient:
    """One Nextcloud account over one pooled HTTP session.

    ``user_id`` may be given when already known (stored connection); otherwise it is looked up
    with ``current_user()`` on first WebDAV use. Raises ``InsecureURL`` for plain http to a
    non-loopback host unless ``creds.allow_insecure_http``; no network access happens here.
    """

    def __init__(
        self,
        creds: Credentials,
        *,
        user_id: str | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = normalize_server_url(
            creds.server_url, allow_insecure_http=creds.allow_insecure_http
        )
        self.login = creds.login
        self._creds = creds
        self.session = NextcloudSession(creds.login, creds.password, timeout=timeout)
        self._user_id = user_id
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<NextcloudClient {self.base_url} login={self.login!r}>"

    def __enter__(self) -> NextcloudClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    # --- server and account -------------------------------------------------------------

    def status(self) -> dict:
        """status.php (anonymous): NotNextcloud, TLSFailure, ConnectionLost, ServerUnavailable."""
        return account.fetch_status(self.session, self.base_url)

    def capabilities(self) -> Capabilities:
        """The server's capabilities (chunking, chunk size hint, parallelism, name rules)."""
        return account.fetch_capabilities(self.session, self.base_url)

    def current_user(self) -> UserInfo:
        """The account behind the credentials; caches its user id for WebDAV paths."""
        info = account.fetch_current_user(self.session, self.base_url)
        with self._lock:
            self._user_id = info.id
        return info

    def revoke_app_password(self) -> None:
        """Revoke the app password this client logs in with (403 if it is not one)."""
        account.revoke_app_password(self.session, self.base_url)

    @property
    def user_id(self) -> str:
        """The DAV user id (from cloud/user, never the display name)."""
        if self._user_id is None:
            self.current_user()
        assert self._user_id is not None
        return self._user_id

    # --- URLs ----------------------------------------------------------------------------

    def files_root_path(self) -> str:
        """URL path (still percent-encoded) of the user's files root, e.g.
        ``/remote.php/dav/files/alice``; PROPFIND hrefs are made relative to it."""
        return urlsplit(self.files_url("")).path

    def files_url(self, path: str) -> str:
        """Full URL of ``path`` below the user's files root (percent-encoded)."""
        rel = quote_dav_path(path)
        root = f"{self.base_url}/remote.php/dav/files/{quote(self.user_id, safe='')}"
        return f"{root}/{rel}" if rel else root

    def uploads_url(self, transfer_id: str, name: str = "") -> str:
        """Full URL of a chunked-upload folder (or an entry in it)."""
        split_dav_path(transfer_id)  # refuses "", "." and ".."
        if "/" in transfer_id:
            raise ValueError("transfer_id must be one path segment")
        url = (
            f"{self.base_url}/remote.php/dav/uploads/{quote(self.user_id, safe='')}/"
            f"{quote(transfer_id, safe='')}"
        )
        return f"{url}/{quote(name, safe='')}" if name else url

    # --- WebDAV --------------------------------------------------------------------------

    def mkcol(self, path: str) -> bool:
        """Create one folder: True created, False it already existed (405).

        409 (missing parent) raises ``UnexpectedResponse``; a refused name ``NameRejected``.
        """
        return webdav.mkcol(self.session, self.files_url(path))

    def ensure_folder(self, path: str) -> None:
        """Create every missing level of ``path`` (existing levels are fine)."""
        segments = split_dav_path(path)
        for i in range(1, len(segments) + 1):
            webdav.mkcol(self.session, self.files_url("/".join(segments[:i])))

    def put(
        self,
        path: str,
        stream: Readable,
        size: int,
        *,
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        mtime: float | None = None,
        checksum_sha256_hex: str | None = None,
    ) -> PutResult:
        """Upload ``size`` bytes from ``stream`` to ``path`` in one streamed PUT.

        Asks for ``X-Hash: sha256`` (the server's digest comes back in ``PutResult.hashes``),
        sends ``X-OC-MTime`` and, when given, ``OC-Checksum: SHA256:<hex>`` (stored verbatim).
        ``cancel`` stops it within about a second, raising ``Cancelled``.
        """
        headers = {"X-Hash": "sha256"}
        if mtime is not None:
            headers["X-OC-MTime"] = str(int(mtime))
        if checksum_sha256_hex:
            headers["OC-Checksum"] = f"SHA256:{checksum_sha256_hex.lower()}"
        resp = webdav.put(
            self.session,
            self.files_url(path),
            stream,
            size,
            headers=headers,
            on_progress=on_progress,
            cancel=cancel,
        )
        return webdav.put_result(resp)

    def propfind(self, path: str, depth: int = 1) -> list[DavEntry]:
        """PROPFIND ``path`` (Depth 0 or 1); a missing path raises UnexpectedResponse(404)."""
        entries = webdav.propfind(
            self.session, self.files_url(path), self.files_root_path(), depth=depth
        )
        assert entries is not None
        return entries

    def stat(self, path: str) -> DavEntry | None:
        """The entry for ``path`` (Depth 0), or None when it does not exist."""
        entries = webdav.propfind(
            self.session, self.files_url(path), self.files_root_path(), depth=0, ok404=True
        )
        if not entries:
            return None
        return entries[0]

    def exists(self, path: str) -> bool:
        """True when ``path`` exists."""
        return self.stat(path) is not None

    def listdir(self, path: str) -> list[DavEntry]:
        """The children of a folder (Depth 1 without the folder itself)."""
        want = "/".join(split_dav_path(path))
        return [e for e in self.propfind(path, 1) if e.path != want]

    def delete(self, path: str) -> bool:
        """Delete a file or folder; False when it was already gone."""
        return webdav.delete(self.session, self.files_url(path))

    def move(self, src: str, dst: str, overwrite: bool = True) -> None:
        """Move/rename within the user's files (412 when ``overwrite`` is False and dst exists)."""
        webdav.move(self.session, self.files_url(src), self.files_url(dst), overwrite=overwrite)

    def get(self, path: str) -> RemoteStream:
        """Download as a stream (iterate, or ``read(n)``; close or use ``with``)."""
        return webdav.get(self.session, self.files_url(path))

    # --- server-computed digests (verify.py) ----------------------------------------------

    def recalculate_hash(self, path: str, algo: str = "sha256") -> str | None:
        """The server's hex digest of the stored file (``PATCH`` with ``X-Recalculate-Hash``).

        None when the server does not support it (Nextcloud before 24, a proxy refusing
        PATCH): decided from its answer (400, 403, 405, 501, or no ``OC-Checksum``). 404
        raises ``UnexpectedResponse``; 423 ``ResourceLocked``. The server also stores the
        result as the file's ``oc:checksums``.
        """
        return verify.recalculate_hash(self.session, self.files_url(path), algo)

    def recalculated_digest(self, path: str) -> ServerDigest | None:
        """``recalculate_hash(path)`` as a ``ServerDigest`` of kind RECALCULATED, or None."""
        sha = self.recalculate_hash(path, "sha256")
        return None if sha is None else ServerDigest(DigestKind.RECALCULATED, sha)

    def download_sha256(
        self,
        path: str,
        *,
        cancel: CancelToken | None = None,
        on_progress: ProgressCallback | None = None,
        resume: int = verify.DEFAULT_RESUMES,
    ) -> ServerDigest:
        """Download the stored file and hash it: a ``ServerDigest`` of kind DOWNLOAD.

        Constant memory (1 MiB pieces); a cut continues from the byte reached with ``Range``
        (at most ``resume`` times; the hash state is kept); ``cancel`` raises ``Cancelled``
        within about a second; ``on_progress(bytes_so_far)``. It moves the whole file over
        the link a second time.
        """
        return verify.download_sha256(
            self.session,
            self.files_url(path),
            cancel=cancel,
            on_progress=on_progress,
            resume=resume,
        )

    def file_hashes(self, path: str) -> dict[str, str]:
        """Server-computed digests of the stored file, lowercase algo -> hex; {} when none.

        Kept for older callers: it holds the ``PATCH X-Recalculate-Hash`` answer (the server
        reads the file back and hashes it) where the server supports it. It never holds the
        stored ``oc:checksums`` (what a client sent, kept verbatim) nor a HEAD's ``X-Hash``
        (Nextcloud ignores it there). New code: ``recalculated_digest`` / ``download_sha256``.
        """
        sha = self.recalculate_hash(path, "sha256")
        return {} if sha is None else {"sha256": sha}

    def bulk_upload(
        self,
        items: Sequence[BulkItem],
        *,
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> BulkReply:
        """Send small files in one bulk request (when ``capabilities().bulkupload``).

        Paths are relative to the user's files root, as for ``put``; see ``nextcloud.bulk``.
        """
        return bulk.upload(
            self.session, self.base_url, items, on_progress=on_progress, cancel=cancel
        )
