"""``PATCH`` with ``X-Recalculate-Hash``: the server hashes the file it stores, on demand.

As apps/dav/lib/Connector/Sabre/ChecksumUpdatePlugin.php (Nextcloud 24+, the form shipped
with 30): on a file, the header's algorithm is lower-cased and handed to PHP's ``hash_file``
over the stored bytes; the result is stored as the file's checksum (``oc:checksums``) and
answered in ``OC-Checksum: <ALGO>:<hex>`` with 204. An algorithm PHP does not know (or no
header) makes ``hash_file`` throw, answered 500. On a folder no handler takes the request, and
a server without the plugin (the ``nextcloud-old`` profile) has none at all: Sabre answers 501.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from tellakit.devserver.context import Context
from tellakit.devserver.responses import Environ, StartResponse, dav_error, drain, respond

#: PHP hash algorithm names -> hashlib's (a subset of what PHP knows; enough for clients).
ALGORITHMS = {
    "md5": "md5",
    "sha1": "sha1",
    "sha256": "sha256",
    "sha384": "sha384",
    "sha512": "sha512",
    "sha3-256": "sha3_256",
    "sha3-512": "sha3_512",
}
BUFFER = 1024 * 1024
NO_HANDLER = "There was no plugin in the system that was willing to handle this PATCH method."


def hash_file(path: Path, algorithm: str) -> str:
    """The hex digest of the file at ``path``, read in blocks (constant memory)."""
    digest = hashlib.new(ALGORITHMS[algorithm], usedforsecurity=False)
    with path.open("rb") as f:
        while block := f.read(BUFFER):
            digest.update(block)
    return digest.hexdigest()


def recalculate(
    ctx: Context, environ: Environ, start_response: StartResponse, uid: str, rel: str
) -> list[bytes]:
    """Answer ``PATCH`` on ``rel`` below ``uid``'s files."""
    drain(environ)
    disk = ctx.files_root(uid) / rel if rel else ctx.files_root(uid)
    if not disk.exists():
        return dav_error(start_response, 404, f"File with name {rel} could not be located")
    if not ctx.profile.recalculate_hash or not disk.is_file():
        return dav_error(start_response, 501, NO_HANDLER)
    algorithm = environ.get("HTTP_X_RECALCULATE_HASH", "").lower()
    if algorithm not in ALGORITHMS:
        return dav_error(
            start_response,
            500,
            "hash_file(): Argument #1 ($algo) must be a valid hashing algorithm",
            exception="ValueError",
        )
    if ctx.is_busy(uid, rel):  # View::hash takes a shared lock; a writer holds it exclusively
        return dav_error(start_response, 423, f'"{rel}" is locked')
    checksum = f"{algorithm.upper()}:{hash_file(disk, algorithm)}"
    ctx.meta.set_checksum(uid, rel, checksum)
    return respond(start_response, 204, headers=[("OC-Checksum", checksum)])
