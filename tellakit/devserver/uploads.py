"""Chunked upload below /remote.php/dav/uploads/{uid}/: v1 semantics, v2 rules when the
MKCOL carried a Destination, assembly by streaming concatenation, idle expiry.

With the ``nextcloud-object-store`` profile a v2 upload behaves as ChunkingV2Plugin's on S3:
chunks are multipart parts (listed by part number, beside a ``.target`` staging entry), the
MOVE answers no ``X-Hash``, stores no checksum and does not compare ``OC-Total-Length``, and
an upload whose metadata left the cache (``drop_metadata``) answers 412 to its chunk PUTs.

The SHA-256 of an upload is computed as its chunks arrive, also when parallel chunk PUTs
complete out of order (``arrival.ArrivalHashes``): the final MOVE with ``X-Hash: sha256`` then
only puts the chunks together, and answers with that hash once it has checked that the chunks
on disk are exactly those hashed. Anything else (a chunk re-sent, a server restart, another
algorithm) is hashed during the assembly, on a second thread. The answer is the same either
way; only when the work is done differs. Assembly copies no byte through Python: a single
chunk is renamed into place, several are appended in the kernel (copy_file_range).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import threading
import time
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlparse
from xml.sax.saxutils import escape

from tellakit.devserver.arrival import ArrivalHashes, natural_key
from tellakit.devserver.bodyio import receive, write_all
from tellakit.devserver.context import Context, FileBusy
from tellakit.devserver.davfs import HASHES, wanted_hashes
from tellakit.devserver.hashing import feed_file
from tellakit.devserver.meta import INSTANCE_ID
from tellakit.devserver.responses import (
    Environ,
    StartResponse,
    dav_error,
    drain,
    invalid_path,
    respond,
)

PREFIX = "/remote.php/dav/uploads/"
MISSING_METADATA = (
    "Missing metadata for chunked upload. The distributed cache does not hold the information "
    "of previous requests."
)
FILES_PREFIX = "/remote.php/dav/files/"
V2_MIN_CHUNK = 5 * 1024 * 1024
V2_MAX_CHUNK = 5 * 1024 * 1024 * 1024
BUFFER = 1024 * 1024
_V2_NAME = re.compile(r"^[0-9]+$")


def _http_date(ts: float) -> str:
    return formatdate(ts, usegmt=True)


class Uploads:
    """Handles the uploads endpoint for one server."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._hashes = ArrivalHashes()
        self._lost_lock = threading.Lock()
        #: v2 uploads whose metadata left the distributed cache (object-store profile)
        self._lost: set[tuple[str, str]] = set()

    def drop_metadata(self, uid: str, upload_id: str) -> None:
        """The v2 metadata of ``upload_id`` is gone, as after a Redis eviction or restart."""
        if self.ctx.meta.upload_destination(uid, upload_id) is None:
            raise KeyError(f"{upload_id} is not a v2 upload of {uid}")
        with self._lost_lock:
            self._lost.add((uid, upload_id))

    def hashed_on_arrival(self, uid: str, upload_id: str) -> str | None:
        """The SHA-256 of upload ``upload_id``'s chunks as they are now, if it was computed
        as they arrived (a MOVE with ``X-Hash: sha256`` then reads nothing back)."""
        folder = self.ctx.uploads_root(uid) / upload_id
        return self._hashes.hashed(uid, folder, self._chunks(folder))

    def _v2(self, uid: str, folder: Path) -> bool:
        """True for an upload that follows chunking v2 (its MKCOL carried a Destination)."""
        return self.ctx.meta.upload_destination(uid, folder.name) is not None

    def _metadata_lost(self, uid: str, folder: Path) -> bool:
        with self._lost_lock:
            return (uid, folder.name) in self._lost

    def _forget(self, uid: str, folder: Path) -> None:
        self._hashes.forget(uid, folder)
        with self._lost_lock:
            self._lost.discard((uid, folder.name))

    # --- housekeeping --------------------------------------------------------------------------
    def expire(self, uid: str) -> None:
        """Delete upload folders idle for longer than the configured time."""
        now = time.time()
        root = self.ctx.uploads_root(uid)
        for folder in root.iterdir():
            try:
                last = max([folder.stat().st_mtime] + [c.stat().st_mtime for c in folder.iterdir()])
            except OSError:
                continue
            if now - last > self.ctx.chunk_expiry_seconds:
                shutil.rmtree(folder, ignore_errors=True)
                self.ctx.meta.drop_upload(uid, folder.name)
                self._forget(uid, folder)

    def _dest(self, environ: Environ, uid: str) -> str | None:
        raw = environ.get("HTTP_DESTINATION")
        if raw is None:
            return None
        path = unquote(urlparse(raw).path)
        prefix = FILES_PREFIX + uid
        if path == prefix or path.startswith(prefix + "/"):
            rel = path[len(prefix) :].strip("/")
            return "" if ".." in rel.split("/") else rel
        return ""  # present, but outside the user's files

    def _chunks(self, folder: Path) -> list[Path]:
        return sorted(
            (p for p in folder.iterdir() if p.is_file()), key=lambda p: natural_key(p.name)
        )

    # --- dispatch ------------------------------------------------------------------------------
    def handle(
        self, environ: Environ, start_response: StartResponse, path: str, uid: str
    ) -> list[bytes]:
        """Answer one request below /remote.php/dav/uploads/."""
        method = environ.get("REQUEST_METHOD", "GET").upper()
        owner, _, sub = path[len(PREFIX) :].partition("/")
        if owner != uid:
            drain(environ)
            return dav_error(start_response, 403, f"Access to {path} is not allowed")
        self.expire(uid)
        parts = [p for p in sub.split("/") if p]
        if any(p in (".", "..") or p.startswith(".tmp") for p in parts) or len(parts) > 2:
            drain(environ)
            return dav_error(start_response, 404, f"File with name {path} could not be located")
        if not parts:
            return self.home(environ, start_response, uid, method)
        folder = self.ctx.uploads_root(uid) / parts[0]
        if len(parts) == 1:
            return self.folder(environ, start_response, uid, folder, method)
        return self.chunk(environ, start_response, uid, folder, parts[1], method)

    def home(
        self, environ: Environ, start_response: StartResponse, uid: str, method: str
    ) -> list[bytes]:
        if method == "PROPFIND":
            drain(environ)
            root = self.ctx.uploads_root(uid)
            entries = [self._entry(f"{PREFIX}{uid}/", root, is_dir=True)]
            if environ.get("HTTP_DEPTH", "1") != "0":
                entries += [
                    self._entry(f"{PREFIX}{uid}/{f.name}/", f, is_dir=True)
                    for f in sorted(root.iterdir())
                ]
            return _multistatus(start_response, entries)
        drain(environ)
        if method == "MKCOL":
            return dav_error(start_response, 405, "The resource you tried to create already exists")
        return dav_error(start_response, 403, "Permission denied to create file")

    def folder(
        self, environ: Environ, start_response: StartResponse, uid: str, folder: Path, method: str
    ) -> list[bytes]:
        """MKCOL, PROPFIND, DELETE of an upload folder."""
        drain(environ)
        href = f"{PREFIX}{uid}/{folder.name}/"
        if method == "MKCOL":
            if folder.exists():
                return dav_error(
                    start_response, 405, "The resource you tried to create already exists"
                )
            # Servers without chunking v2 ignore the Destination of a MKCOL.
            dest = self._dest(environ, uid) if self.ctx.profile.chunking_v2 else None
            if dest == "":
                return dav_error(start_response, 400, "Destination outside of the user's files")
            folder.mkdir()
            self.ctx.meta.set_upload(uid, folder.name, dest)
            return respond(start_response, 201)
        if method == "PUT":  # a file directly below /uploads/{uid}/
            return dav_error(start_response, 403, "Permission denied to create file")
        if not folder.is_dir():
            return dav_error(start_response, 404, f"File with name {href} could not be located")
        if method == "PROPFIND":
            entries = [self._entry(href, folder, is_dir=True)]
            if environ.get("HTTP_DEPTH", "1") != "0":
                entries += self._listing(uid, folder, href)
            return _multistatus(start_response, entries)
        if method == "DELETE":
            shutil.rmtree(folder, ignore_errors=True)
            self.ctx.meta.drop_upload(uid, folder.name)
            self._forget(uid, folder)
            return respond(start_response, 204)
        if method in ("GET", "HEAD"):
            return dav_error(start_response, 405, "Reading intermediate uploads is not allowed")
        return dav_error(start_response, 403, f"{method} is not allowed here")

    def chunk(
        self,
        environ: Environ,
        start_response: StartResponse,
        uid: str,
        folder: Path,
        name: str,
        method: str,
    ) -> list[bytes]:
        """PUT, DELETE, PROPFIND of a chunk; MOVE of .file assembles."""
        if method == "PUT":
            return self.put_chunk(environ, start_response, uid, folder, name)
        if method == "MOVE" and name == ".file":
            drain(environ)
            return self.assemble(environ, start_response, uid, folder)
        drain(environ)
        href = f"{PREFIX}{uid}/{folder.name}/{quote(name)}"
        if method == "MKCOL":
            return dav_error(start_response, 403, "Permission denied to create directory")
        if not folder.is_dir():
            return dav_error(start_response, 404, f"File with name {href} could not be located")
        chunk = folder / name
        if method == "PROPFIND" and (chunk.is_file() or name == ".file"):
            if name == ".file":
                total = sum(c.stat().st_size for c in self._chunks(folder))
                return _multistatus(start_response, [self._entry(href, folder, size=total)])
            return _multistatus(start_response, [self._entry(href, chunk)])
        if method == "DELETE" and chunk.is_file():
            chunk.unlink()
            return respond(start_response, 204)
        if method in ("GET", "HEAD"):
            return dav_error(start_response, 405, "Reading intermediate uploads is not allowed")
        if method in ("MOVE", "COPY"):
            return dav_error(start_response, 403, "Only .file can be moved")
        return dav_error(start_response, 404, f"File with name {href} could not be located")

    def _listing(self, uid: str, folder: Path, href: str) -> list[str]:
        """PROPFIND entries of an upload folder's contents (UploadFolder::getChildren)."""
        chunks = self._chunks(folder)
        total = sum(c.stat().st_size for c in chunks)
        if not (self.ctx.profile.object_store and self._v2(uid, folder)):
            entries = [self._entry(href + quote(c.name), c) for c in chunks]
            return [*entries, self._entry(href + ".file", folder, size=total)]
        # On an object store the chunks are multipart parts, listed by part number while the
        # upload's metadata is in the cache; a .target staging file stands for a new file.
        entries = []
        if not self._metadata_lost(uid, folder):
            entries = [self._entry(href + str(int(c.name)), c) for c in chunks]
        dest = self.ctx.meta.upload_destination(uid, folder.name) or ""
        if not (self.ctx.files_root(uid) / dest).is_file():
            entries.append(self._entry(href + ".target", folder, size=total))
        return [*entries, self._entry(href + ".file", folder, size=total)]

    # --- chunk PUT -----------------------------------------------------------------------------
    def put_chunk(
        self, environ: Environ, start_response: StartResponse, uid: str, folder: Path, name: str
    ) -> list[bytes]:
        if not folder.is_dir():
            drain(environ)
            return dav_error(
                start_response, 409, "Files cannot be created in non-existent collections"
            )
        v2 = self._v2(uid, folder)
        length = environ.get("CONTENT_LENGTH")
        expected = int(length) if length and length.isdigit() else None
        if v2:
            if "HTTP_DESTINATION" not in environ:
                drain(environ)
                return dav_error(
                    start_response, 400, "Destination header is required for chunked upload v2"
                )
            if self._metadata_lost(uid, folder):
                drain(environ)
                return dav_error(start_response, 412, MISSING_METADATA)
            if not _V2_NAME.match(name) or not 1 <= int(name) <= 10000:
                drain(environ)
                return dav_error(
                    start_response, 400, "Invalid chunk name, must be numeric between 1 and 10000"
                )
            if expected is not None and expected > V2_MAX_CHUNK:
                drain(environ)
                return dav_error(start_response, 400, "Chunk is larger than 5 GiB")
        elif name == ".file":
            drain(environ)
            return dav_error(start_response, 403, "Permission denied to create file")
        free = self.ctx.free_bytes(uid)
        total = environ.get("HTTP_OC_TOTAL_LENGTH", "")
        if free is not None and "HTTP_DESTINATION" in environ and total.isdigit():
            dest = self._dest(environ, uid) or ""
            if int(total) > free:
                drain(environ)
                return dav_error(
                    start_response,
                    507,
                    f"Insufficient space in {dest}, {total} required, {free} available",
                )
        target = folder / name
        existed = target.exists()
        try:
            with self.ctx.writing(uid, f"\0uploads/{folder.name}/{name}"):
                digest = self._hashes.begin(uid, folder, name, numbered=v2)
                complete = False  # a cut or failed body leaves no chunk file
                try:
                    count = _stream_to(
                        environ["wsgi.input"], target, self.ctx.tmp_dir, expected, digest
                    )
                    complete = expected is None or count == expected
                finally:
                    self._hashes.end(uid, folder, name, digest, complete)
        except FileBusy:
            drain(environ)
            return dav_error(start_response, 423, f'"{name}" is locked')
        if expected is not None and count != expected:
            return dav_error(
                start_response,
                400,
                f"Expected filesize of {expected} bytes but read (from Nextcloud client) and "
                f"wrote (to Nextcloud storage) {count} bytes.",
            )
        os.utime(folder)
        # ChunkingV2Plugin answers 201 to every part; Sabre's PUT 204 to a replaced file.
        return respond(start_response, 204 if existed and not v2 else 201)

    # --- assembly ------------------------------------------------------------------------------
    def assemble(
        self, environ: Environ, start_response: StartResponse, uid: str, folder: Path
    ) -> list[bytes]:
        """MOVE .file: check, concatenate the chunks into the destination, drop the folder."""
        if not folder.is_dir():
            return dav_error(
                start_response, 404, f"File with name {folder.name}/.file could not be located"
            )
        if "HTTP_DESTINATION" not in environ:
            return dav_error(start_response, 400, "The destination header was not supplied")
        dest = self._dest(environ, uid)
        if not dest:
            return dav_error(start_response, 403, "Destination outside of the user's files")
        reason = self.ctx.rules.check(dest.rsplit("/", 1)[-1])
        if reason:
            return invalid_path(start_response, reason)
        disk = self.ctx.files_root(uid) / dest
        existed = disk.exists()
        if existed and environ.get("HTTP_OVERWRITE", "T").upper() == "F":
            return dav_error(
                start_response,
                412,
                "The destination node already exists, and the overwrite header is set to false",
            )
        if disk.is_dir():
            return dav_error(start_response, 400, f"The given destination {dest} is a directory.")
        if not disk.parent.is_dir():
            return dav_error(start_response, 409, "The destination node is not found")
        mtime_header = environ.get("HTTP_X_OC_MTIME")
        mtime = None
        if mtime_header is not None:
            try:
                mtime = int(float(mtime_header))
            except ValueError:
                return dav_error(
                    start_response, 400, "X-OC-MTime header must be an integer (unix timestamp)."
                )
        chunks = self._chunks(folder)
        total = sum(c.stat().st_size for c in chunks)
        expected = environ.get("HTTP_OC_TOTAL_LENGTH")
        object_store = self.ctx.profile.object_store and self._v2(uid, folder)
        if object_store and self._metadata_lost(uid, folder):
            # ChunkingV2Plugin steps aside; v1's FutureFile holds none of the parts (inferred).
            return dav_error(
                start_response,
                400,
                f"Chunks on server do not sum up to {expected or total} but to 0 bytes",
            )
        checked = expected is not None and expected.isdigit() and not object_store
        if checked and int(expected or 0) != total:
            return dav_error(
                start_response,
                400,
                f"Chunks on server do not sum up to {expected} but to {total} bytes",
            )
        if self._v2(uid, folder):
            for c in chunks[:-1]:
                if c.stat().st_size < V2_MIN_CHUNK:
                    return dav_error(
                        start_response,
                        400,
                        f"Chunk {c.name} is smaller than the minimum chunk size of 5 MiB "
                        "(only the last chunk may be smaller)",
                    )
        free = self.ctx.free_bytes(uid)
        if free is not None and total > free:
            return dav_error(
                start_response,
                507,
                f"Insufficient space in {dest}, {total} required, {free} available",
            )
        # The object store completes the multipart upload: nothing hashes the bytes.
        wanted = [] if object_store else wanted_hashes(environ, self.ctx)
        known = self._hashes.hashed(uid, folder, chunks) if "sha256" in wanted else None
        try:
            with self.ctx.writing(uid, dest):
                digests = _concatenate(
                    chunks,
                    disk,
                    self.ctx.tmp_dir,
                    [a for a in wanted if not (a == "sha256" and known is not None)],
                )
        except FileBusy:
            return dav_error(start_response, 423, f'"{dest}" is locked')
        headers: list[tuple[str, str]] = []
        if mtime is not None:
            os.utime(disk, (mtime, mtime))
            headers.append(("X-OC-MTime", "accepted"))
        else:
            os.utime(disk)  # assembled now (a single chunk was renamed: its time is older)
        meta = self.ctx.meta
        # v1 assembles through File::put, which stores OC-Checksum (or clears the old one);
        # ChunkingV2Plugin's MOVE never reads the header.
        checksum = None if object_store else environ.get("HTTP_OC_CHECKSUM") or None
        meta.set_checksum(uid, dest, checksum)
        meta.touch(uid, dest)
        _remove_later(folder, self.ctx.tmp_dir)
        meta.drop_upload(uid, folder.name)
        self._forget(uid, folder)
        etag = meta.etag(uid, dest, disk)
        headers += [
            ("ETag", f'"{etag}"'),
            ("OC-ETag", f'"{etag}"'),
            ("OC-FileId", f"{meta.fileid(uid, dest):08d}{INSTANCE_ID}"),
            ("X-NC-OwnerId", uid),
            ("X-NC-Permissions", "RGDNVW"),
        ]
        if known is not None:
            digests["sha256"] = known
        headers += [(f"X-Hash-{HASHES[a]}", digests[a]) for a in wanted if a in digests]
        return respond(start_response, 204 if existed else 201, headers=headers)

    # --- PROPFIND entries ----------------------------------------------------------------------
    def _entry(
        self, href: str, disk: Path, *, is_dir: bool = False, size: int | None = None
    ) -> str:
        st = disk.stat()
        props = [f"<d:getlastmodified>{_http_date(st.st_mtime)}</d:getlastmodified>"]
        etag = hashlib.md5(f"{href}:{st.st_mtime_ns}:{st.st_size}".encode(), usedforsecurity=False)
        props.append(f'<d:getetag>"{etag.hexdigest()[:13]}"</d:getetag>')
        if is_dir:
            props.append("<d:resourcetype><d:collection/></d:resourcetype>")
        else:
            length = st.st_size if size is None else size
            props.append("<d:resourcetype/>")
            props.append(f"<d:getcontentlength>{length}</d:getcontentlength>")
            props.append(f"<oc:size>{length}</oc:size>")
        return (
            f"<d:response><d:href>{escape(href)}</d:href><d:propstat><d:prop>{''.join(props)}"
            "</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
        )


def _multistatus(start_response: StartResponse, entries: list[str]) -> list[bytes]:
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n<d:multistatus xmlns:d="DAV:" '
        'xmlns:s="http://sabredav.org/ns" xmlns:oc="http://owncloud.org/ns" '
        'xmlns:nc="http://nextcloud.org/ns">' + "".join(entries) + "</d:multistatus>\n"
    ).encode()
    return respond(start_response, 207, body, content_type="application/xml; charset=utf-8")


def _remove_later(folder: Path, tmp_dir: Path) -> None:
    """Take ``folder`` out of the uploads at once; delete its files on a thread.

    Unlinking a gigabyte of chunks takes a while on some file systems; the answer to the MOVE
    need not wait for it, only for the folder to be gone from where clients can see it.
    """
    trash = Path(tempfile.mkdtemp(dir=tmp_dir, suffix=".done"))
    try:
        folder.rename(trash / folder.name)
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
    threading.Thread(
        target=shutil.rmtree, args=(trash,), kwargs={"ignore_errors": True}, daemon=True
    ).start()


def _stream_to(
    stream: object, target: Path, tmp_dir: Path, expected: int | None, digest: Any = None
) -> int:
    """Copy a request body into ``target`` via a part file; returns the bytes read.

    ``digest`` (a hashlib object), when given, is updated with every byte on the way.
    """
    fd, part = tempfile.mkstemp(dir=tmp_dir, suffix=".chunk")
    try:
        try:
            count = receive(stream, fd, expected, [] if digest is None else [digest])
        finally:
            os.close(fd)
        if expected is None or count == expected:
            os.replace(part, target)
    finally:
        Path(part).unlink(missing_ok=True)
    return count


def _concatenate(
    chunks: list[Path], target: Path, tmp_dir: Path, algorithms: list[str]
) -> dict[str, str]:
    """Put the chunks, in order, into ``target`` (atomically); returns the hashes asked for.

    No byte goes through Python: a single chunk is renamed into place, several are appended
    in the kernel (copy_file_range). Hashes asked for are computed on a second thread that
    reads the chunks (from the page cache) while the kernel copies them.
    """
    hashes = {a: hashlib.new(a, usedforsecurity=False) for a in algorithms}
    hasher = _FileHasher(chunks, list(hashes.values())) if hashes else None
    try:
        if len(chunks) == 1:
            if hasher is not None:
                hasher.join()  # read it where it is (nothing to overlap with: no copy follows)
            os.replace(chunks[0], target)
        else:
            _append_all(chunks, target, tmp_dir)
    finally:
        if hasher is not None:
            hasher.join()
    return {a: h.hexdigest() for a, h in hashes.items()}


class _FileHasher:
    """Hashes files, one after the other, on a worker thread."""

    def __init__(self, files: list[Path], digests: list[Any]) -> None:
        self._files = files
        self._digests = digests
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="devserver-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for path in self._files:
                with open(path, "rb", buffering=0) as src:
                    feed_file(src, self._digests)
        except BaseException as exc:  # re-raised in the request thread by join()
            self._error = exc

    def join(self) -> None:
        """Wait for the last file; raise what the thread met (once)."""
        self._thread.join()
        error, self._error = self._error, None
        if error is not None:
            raise error


def _append_all(chunks: list[Path], target: Path, tmp_dir: Path) -> None:
    """Concatenate ``chunks`` into ``target`` (atomically) without copying through Python."""
    fd, part = tempfile.mkstemp(dir=tmp_dir, suffix=".part")
    try:
        with os.fdopen(fd, "wb", buffering=0) as out:
            for chunk in chunks:
                with open(chunk, "rb", buffering=0) as src:
                    _append(src, out)
        os.replace(part, target)
    finally:
        Path(part).unlink(missing_ok=True)


def _append(src: Any, out: Any) -> None:
    """Append the whole of ``src`` to ``out`` in the kernel (copy_file_range, else sendfile;
    through a reused buffer where neither works, e.g. across file systems)."""
    size = os.fstat(src.fileno()).st_size
    done = 0
    for copy in (_copy_range, _sendfile):
        try:
            while done < size:
                n = copy(src.fileno(), out.fileno(), size - done)
                if n == 0:
                    break
                done += n
        except OSError:
            if done:
                raise
            continue  # e.g. EXDEV or ENOSYS before anything was copied: the next way
        break
    if done == 0 and size:
        buffer = bytearray(BUFFER)
        with memoryview(buffer) as view:
            while n := src.readinto(buffer):
                with view[:n] as block:
                    write_all(out.fileno(), block)
                done += n
    if done != size:
        raise OSError(f"copied {done} of {size} bytes of {src.name}")


def _copy_range(src: int, dst: int, count: int) -> int:
    copy = getattr(os, "copy_file_range", None)
    if copy is None:
        raise OSError("copy_file_range is not available")
    return int(copy(src, dst, count))


def _sendfile(src: int, dst: int, count: int) -> int:
    return os.sendfile(dst, src, None, count)
