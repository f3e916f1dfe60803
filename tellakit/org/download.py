"""Resumable downloads into a local file, hashed on the way (the organization's side).

A download goes to a ``.part`` file named after the remote name and a tag of the server's ETag.
An interrupted download keeps what arrived; the next attempt hashes those bytes and asks for
the rest with ``Range: bytes=N-`` and ``If-Range: <etag>``. A server that answers 200 instead
of 206 (no ranges, or the file changed) sends the whole file again and the part file starts
over; a changed ETag names a new part file, so bytes of two versions are never joined.
Only GET and PROPFIND are used: nothing on the server is changed.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path

from tellakit.errors import UnexpectedResponse
from tellakit.nextcloud import NextcloudClient
from tellakit.nextcloud.session import path_of
from tellakit.nextcloud.webdav import RemoteStream

READ_SIZE = 1024 * 1024
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def part_path(folder: Path, name: str, etag: str | None) -> Path:
    """Where the download of ``name`` at version ``etag`` is kept while it is incomplete."""
    tag = hashlib.sha256((etag or "").encode("utf-8")).hexdigest()[:12]
    return folder / f"{hashlib.sha256(name.encode('utf-8')).hexdigest()[:16]}.{tag}.part"


def _hash_existing(path: Path) -> tuple[hashlib._Hash, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(READ_SIZE):
            digest.update(chunk)
            size += len(chunk)
    return digest, size


def download(
    client: NextcloudClient,
    remote_path: str,
    target: Path,
    *,
    size: int,
    etag: str | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> str:
    """Make ``target`` hold the ``size`` bytes of ``remote_path``; return their hex SHA-256.

    Bytes already in ``target`` are kept (a resume). The server sending more than ``size``
    bytes, or fewer, raises UnexpectedResponse; a cut connection raises ConnectionLost and
    leaves what arrived in ``target`` for the next attempt.
    """
    have = target.stat().st_size if target.exists() else 0
    if have > size:
        target.unlink()
        have = 0
    digest, have = _hash_existing(target) if have else (hashlib.sha256(), 0)
    if have == size:
        return digest.hexdigest()
    url = client.files_url(remote_path)
    headers = {"Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
        if etag:
            headers["If-Range"] = f'"{etag}"'
    resp = client.session.request_checked("GET", url, ok=(200, 206), headers=headers, stream=True)
    mode = "ab"
    if resp.status_code == 206:
        match = _CONTENT_RANGE.fullmatch(resp.headers.get("Content-Range", ""))
        if match is None or int(match.group(1)) != have:
            resp.close()
            raise UnexpectedResponse(
                f"GET {path_of(url)}: the server answered a different range than asked.",
                status=206,
                method="GET",
                path=path_of(url),
            )
    elif have:  # 200: the whole file again (no range support, or a newer version)
        mode = "wb"
        digest, have = hashlib.sha256(), 0
    with RemoteStream(client.session, resp, url) as stream, open(target, mode) as out:
        for piece in stream:
            if have + len(piece) > size:
                raise UnexpectedResponse(
                    f"GET {path_of(url)}: the server sent more than the {size} bytes it listed.",
                    status=resp.status_code,
                    method="GET",
                    path=path_of(url),
                )
            out.write(piece)
            digest.update(piece)
            have += len(piece)
            if on_bytes is not None:
                on_bytes(len(piece))
        out.flush()
        os.fsync(out.fileno())
    if have != size:
        raise UnexpectedResponse(
            f"GET {path_of(url)}: the download ended after {have} of {size} bytes.",
            status=resp.status_code,
            method="GET",
            path=path_of(url),
        )
    return digest.hexdigest()
