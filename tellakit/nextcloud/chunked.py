"""Chunked upload (Nextcloud "uploads" endpoint), resumable across processes.

The caller chooses and persists ``transfer_id`` (``new_transfer_id()``); after a crash it makes
a new ``ChunkedUpload`` with the same id, asks ``received_chunks()`` and sends the rest.

Protocol (reference/nextcloud-protocol.md §2):
- ``start()`` sends MKCOL with ``Destination`` (v2). If the server refuses that form, it falls
  back to a plain MKCOL (v1 semantics) and stops sending ``Destination`` on chunks. A folder
  that already exists (405) is fine: that is a resume.
- Chunks are named ``00001`` .. ``10000`` (numeric for v2, zero-padded so v1's natural-order
  assembly agrees).
- ``finish()`` MOVEs ``.file`` onto the destination with ``OC-Total-Length`` and ``X-OC-MTime``.
- A folder the server has dropped (its cleanup job runs after 24 h of inactivity) answers 404
  (409 for a chunk PUT), and a v2 upload whose metadata expired answers 412; all raise
  ``UploadExpired`` so the caller restarts that file with a new transfer id.
- v2 servers refuse chunks under 5 MiB except the last (object-store multipart rule).

Parallel chunks: once ``start()`` returned, ``upload_chunk`` may run from several threads at
once on the same object (each call is one PUT on its own pooled connection; the object holds no
state that a chunk PUT changes). Nextcloud assembles chunks by name, whatever order they
arrived in; ``parallel_limit`` says how many to keep in flight. After a cut or a kill, any
subset of the chunks in flight may be on the server, each whole or absent (never partial):
``received_chunks()`` says which, and only the others are sent again. ``finish()`` runs after
every chunk PUT has returned.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tellakit.errors import ServerError, UnexpectedResponse, UploadExpired
from tellakit.nextcloud import webdav
from tellakit.nextcloud.cancel import CancelToken
from tellakit.nextcloud.models import Capabilities, PutResult
from tellakit.nextcloud.session import ASSEMBLY_TIMEOUT, NextcloudSession, path_of
from tellakit.nextcloud.streaming import ProgressCallback, Readable

if TYPE_CHECKING:
    from tellakit.nextcloud.client import NextcloudClient

MAX_CHUNKS = 10000


def new_transfer_id() -> str:
    """A fresh upload folder name (persist it before the first chunk)."""
    return f"tellakit-{uuid.uuid4().hex}"


def parallel_limit(caps: Capabilities, session: NextcloudSession) -> int:
    """How many chunk PUTs of one upload to keep in flight on ``session``.

    The server's ``files.chunked_upload.max_parallel_count`` hint (Nextcloud 30+; its default
    is 5), capped by the session's connection pool; 1 when the server says nothing (older
    servers, whose own clients send one chunk at a time).
    """
    hint = caps.max_parallel if caps.max_parallel and caps.max_parallel > 0 else 1
    return max(1, min(hint, session.pool_size))


def chunk_name(n: int) -> str:
    """``1`` -> ``"00001"``; chunk numbers run from 1 to 10000."""
    if not 1 <= n <= MAX_CHUNKS:
        raise ValueError(f"chunk number must be between 1 and {MAX_CHUNKS}, got {n}")
    return f"{n:05d}"


class ChunkedUpload:
    """One file's chunked upload into ``dest_path`` (relative to the user's files root).

    ``protocol`` is 2 (send ``Destination`` everywhere, the default, right for every server
    that accepted MKCOL with it) or 1 (the server refused MKCOL with ``Destination``);
    ``start()`` sets it, and a caller may persist and pass it back on resume.
    ``checksum_sha256_hex`` goes out as ``OC-Checksum: SHA256:<hex>`` on the final MOVE, so
    the server stores it like a single PUT's (``file_hashes`` reads it back).
    """

    def __init__(
        self,
        client: NextcloudClient,
        dest_path: str,
        total_size: int,
        transfer_id: str,
        *,
        chunk_size: int,
        mtime: float | None = None,
        protocol: int = 2,
        checksum_sha256_hex: str | None = None,
    ) -> None:
        if total_size < 0 or chunk_size <= 0:
            raise ValueError("total_size must be >= 0 and chunk_size > 0")
        self.client = client
        self.dest_path = dest_path
        self.total_size = total_size
        self.transfer_id = transfer_id
        self.chunk_size = chunk_size
        self.mtime = mtime
        self.protocol = protocol
        self.checksum_sha256_hex = checksum_sha256_hex
        self.folder_url = client.uploads_url(transfer_id)

    def __repr__(self) -> str:
        return (
            f"<ChunkedUpload {self.transfer_id} -> {self.dest_path!r} "
            f"{self.total_size} B v{self.protocol}>"
        )

    @property
    def chunk_count(self) -> int:
        """How many chunks of ``chunk_size`` the file takes (at least 1)."""
        return max(1, -(-self.total_size // self.chunk_size))

    def chunk_range(self, n: int) -> tuple[int, int]:
        """(offset, size) of chunk ``n`` (1-based) for this upload's fixed chunk size."""
        offset = (n - 1) * self.chunk_size
        return offset, max(0, min(self.chunk_size, self.total_size - offset))

    def _dest_headers(self) -> dict[str, str]:
        headers = {"OC-Total-Length": str(self.total_size)}
        if self.protocol == 2:
            headers["Destination"] = self.client.files_url(self.dest_path)
        return headers

    def start(self) -> bool:
        """Create the upload folder; True when created, False when it existed (resume).

        With ``protocol`` 2 (the default) it asks for chunking v2 (MKCOL with ``Destination``)
        and falls back to v1 when the server refuses that form; with ``protocol`` 1 it makes a
        v1 folder (plain MKCOL): chunks of any size, for links that cannot carry 5 MiB chunks.
        """
        if self.protocol == 1:
            return webdav.mkcol(self.client.session, self.folder_url)
        headers = {
            "Destination": self.client.files_url(self.dest_path),
            "OC-Total-Length": str(self.total_size),
        }
        try:
            created = webdav.mkcol(self.client.session, self.folder_url, headers=headers)
        except UnexpectedResponse as exc:
            if exc.status not in (400, 403, 412, 415):
                raise
            self.protocol = 1
            return webdav.mkcol(self.client.session, self.folder_url)
        self.protocol = 2
        return created

    def max_in_flight(self, caps: Capabilities) -> int:
        """How many chunk PUTs of this upload to keep in flight (``parallel_limit``)."""
        return parallel_limit(caps, self.client.session)

    def received_chunks(self) -> list[tuple[str, int]]:
        """The chunks the server holds, as (name, size), in number order.

        Non-numeric entries (``.file``, ``.target``, part files) are ignored.
        Raises ``UploadExpired`` when the upload folder is gone.
        """
        entries = webdav.propfind(
            self.client.session,
            self.folder_url,
            urlsplit(self.folder_url).path,
            depth=1,
            ok404=True,
        )
        if entries is None:
            raise self._expired("PROPFIND")
        chunks = [(e.path, e.size or 0) for e in entries if e.path.isdigit() and not e.is_dir]
        chunks.sort(key=lambda c: int(c[0]))
        return chunks

    def received_size(self, n: int) -> int | None:
        """The size of chunk ``n`` on the server (one PROPFIND Depth 0), None when absent.

        Cheaper than listing the folder when only the chunks in flight at a cut are in doubt.
        Raises ``UploadExpired`` when the upload folder itself is gone.
        """
        url = self.client.uploads_url(self.transfer_id, chunk_name(n))
        entries = webdav.propfind(self.client.session, url, urlsplit(url).path, depth=0, ok404=True)
        if entries is None:
            self.ensure_exists()
            return None
        found = [e for e in entries if not e.is_dir]
        return found[0].size if found and found[0].size is not None else None

    def upload_chunk(
        self,
        n: int,
        stream: Readable,
        size: int,
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        """PUT chunk ``n`` (1-based) with ``size`` bytes from ``stream``; ``Cancelled`` on cancel.

        Re-sending a chunk that is already there replaces it.
        """
        url = self.client.uploads_url(self.transfer_id, chunk_name(n))
        try:
            webdav.put(
                self.client.session,
                url,
                stream,
                size,
                headers=self._dest_headers(),
                on_progress=on_progress,
                cancel=cancel,
            )
        except ServerError as exc:
            # A PUT into a vanished folder answers 409 (Sabre: parent missing) or 404.
            if exc.status in (404, 409, 412) and not self._folder_exists():
                raise self._expired("PUT") from None
            if exc.status == 412 and self.protocol == 2:
                # v2 metadata gone from the server's cache: this upload cannot be finished.
                raise self._expired("PUT") from None
            raise

    def finish(self) -> PutResult:
        """MOVE ``.file`` onto the destination; the server assembles the chunks.

        When the folder is gone but the destination holds a file of the expected size, the
        previous MOVE succeeded and only its answer was lost: that is returned as success
        (``status`` 0); the caller verifies content as usual.
        """
        url = self.client.uploads_url(self.transfer_id, ".file")
        headers = {"OC-Total-Length": str(self.total_size), "X-Hash": "sha256"}
        if self.mtime is not None:
            headers["X-OC-MTime"] = str(int(self.mtime))
        if self.checksum_sha256_hex:
            headers["OC-Checksum"] = f"SHA256:{self.checksum_sha256_hex.lower()}"
        try:
            resp = webdav.move(
                self.client.session,
                url,
                self.client.files_url(self.dest_path),
                overwrite=True,
                headers=headers,
                timeout=ASSEMBLY_TIMEOUT,
            )
        except ServerError as exc:
            if exc.status not in (404, 412):
                raise
            if self._folder_exists():
                raise
            entry = self.client.stat(self.dest_path)
            if entry is not None and not entry.is_dir and entry.size == self.total_size:
                return PutResult(status=0, etag=entry.etag, file_id=entry.file_id)
            raise self._expired("MOVE") from None
        return webdav.put_result(resp)

    def abort(self) -> None:
        """Delete the upload folder and every chunk in it (gone already is fine)."""
        webdav.delete(self.client.session, self.folder_url)

    def ensure_exists(self) -> None:
        """Raise ``UploadExpired`` when the upload folder is gone (one PROPFIND Depth 0)."""
        if not self._folder_exists():
            raise self._expired("PROPFIND")

    def _folder_exists(self) -> bool:
        return (
            webdav.propfind(
                self.client.session,
                self.folder_url,
                urlsplit(self.folder_url).path,
                depth=0,
                ok404=True,
            )
            is not None
        )

    def _expired(self, method: str) -> UploadExpired:
        return UploadExpired(
            f"{method} {path_of(self.folder_url)}: the server no longer holds this unfinished "
            "upload (expired or cleaned up); the file restarts from the beginning.",
            status=404,
            method=method,
            path=path_of(self.folder_url),
        )
