"""``POST /remote.php/dav/bulk``: many small files in one request, as Nextcloud 23+ does it.

Follows apps/dav/lib/BulkUpload/{BulkUploadPlugin,MultipartRequestParser}.php:

- ``Content-Type: multipart/related; boundary=B``. Each part is ``--B\\r\\n``, header lines
  (``X-File-Path``, ``X-File-MD5`` and ``Content-Length`` required; ``X-File-Mtime`` or else
  ``X-OC-Mtime``), an empty line, exactly Content-Length bytes, two bytes (``\\r\\n``, not
  checked); the body ends with ``--B--\\r\\n``.
- The part's MD5 (lowercase hex, compared exactly) is checked before its content is used.
  A mismatch, or any framing error, stops the request at that part: 400, and the body is the
  JSON of the files written before it (the parts after it are not read).
- Each part is then written as ``Folder::newFile`` does: a new file or an overwrite, mtime
  applied. A failure of that one file (refused name, quota, missing parent folder, bad mtime,
  a lock) is answered for that path only, ``{"error": true, "message": ...}``, and the request
  goes on with the next part.
- 200 with a JSON object keyed by each part's X-File-Path (as sent): ``{"error": false,
  "etag", "fileid", "permissions"}``. Encoded as PHP's json_encode does (``[]`` when empty,
  ``/`` written as ``\\/``).

Parts are read as they arrive (as under mod_php): a request cut mid-body leaves the files of
the parts completed before the cut, and nothing of the part being received (part files are
renamed into place only when whole and checked). Behind nginx + PHP-FPM, which buffer the whole
body first, a cut request writes nothing; clients must treat both alike.

Nextcloud advertises ``dav.bulkupload: "1.0"`` when the system setting ``bulkupload.enabled``
is true (the default). Here :func:`set_enabled` turns the feature off: the capability goes and
the endpoint answers 501 as a server without the plugin does (Nextcloud before 23, and so the
``nextcloud-old`` profile), so clients' fallback to single PUTs can be tested.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from tellakit.devserver.context import Context, FileBusy
from tellakit.devserver.meta import INSTANCE_ID
from tellakit.devserver.responses import Environ, StartResponse, dav_error, drain, respond

BULK_PATH = "/remote.php/dav/bulk"
FIRST_VERSION = 23  # the Nextcloud release that brought BulkUploadPlugin
BUFFER = 256 * 1024
#: Nextcloud's MtimeSanitizer refuses times up to one day after the epoch.
MIN_MTIME = 24 * 60 * 60
_PHP_NUMERIC = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")
_SWITCH = "_tellakit_bulkupload_enabled"  # attribute kept on the server's Context


def enabled(ctx: Context) -> bool:
    """Whether this server offers bulk upload: on by default, as in Nextcloud 23 and later
    (the plugin came with 23: off for older profiles such as ``nextcloud-old``)."""
    return bool(getattr(ctx, _SWITCH, True)) and ctx.profile.major >= FIRST_VERSION


def set_enabled(ctx: Context, on: bool) -> None:
    """Turn bulk upload on or off (Nextcloud's ``bulkupload.enabled`` system setting)."""
    setattr(ctx, _SWITCH, bool(on))


def capability(ctx: Context) -> dict[str, str]:
    """The ``dav`` capability entries for bulk upload (none when it is off)."""
    return {"bulkupload": "1.0"} if enabled(ctx) else {}


class BadRequest(Exception):
    """A framing or MD5 error: the request stops at this part (Sabre's BadRequest)."""


class FileRefused(Exception):
    """This one file cannot be written; the message is answered for its path."""


def handle(ctx: Context, environ: Environ, start_response: StartResponse, uid: str) -> list[bytes]:
    """Answer a request to /remote.php/dav/bulk (authenticated as ``uid``)."""
    method = environ.get("REQUEST_METHOD", "GET").upper()
    if method != "POST":
        drain(environ)
        return dav_error(start_response, 404, "File with name bulk could not be located")
    if not enabled(ctx):
        drain(environ)
        return dav_error(
            start_response,
            501,
            "There was no plugin in the system that was willing to handle this POST method.",
        )
    try:
        boundary = _boundary(environ.get("CONTENT_TYPE", ""))
    except BadRequest as exc:  # raised before the parsing loop: Sabre's XML error
        drain(environ)
        return dav_error(start_response, 400, str(exc))
    written: dict[str, dict[str, Any]] = {}
    body = _Body(environ["wsgi.input"], boundary)
    try:
        while not body.at_last_boundary():
            headers, part = body.next_part(ctx.tmp_dir)
            try:
                path = headers.get("x-file-path", "")
                written[path] = _store(ctx, uid, path, headers, part)
            except FileRefused as exc:
                written[path] = {"error": True, "message": str(exc)}
            finally:
                part.unlink(missing_ok=True)
    except BadRequest:
        drain(environ)
        return _json(start_response, 400, written)
    return _json(start_response, 200, written)


def _boundary(content_type: str) -> bytes:
    """The boundary of ``multipart/related; boundary=...`` (MultipartRequestParser's rules)."""
    mime, sep, rest = content_type.partition(";")
    key, eq, value = rest.partition("=")
    if not sep or not eq:
        raise BadRequest("Error while parsing boundary in Content-Type header.")
    value = value.strip()
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        value = value[1:-1]
    if mime.strip() != "multipart/related":
        raise BadRequest("Content-Type must be multipart/related")
    if key.strip() != "boundary":
        raise BadRequest("Boundary is invalid")
    return value.encode("latin-1")


class _Body:
    """The request body, read forward with a little look-ahead (PHP seeks back instead)."""

    def __init__(self, stream: Any, boundary: bytes) -> None:
        self._stream = stream
        self._ahead = b""
        self.boundary = b"--" + boundary + b"\r\n"
        self.last_boundary = b"--" + boundary + b"--\r\n"

    def _peek(self, n: int) -> bytes:
        while len(self._ahead) < n:
            data = self._stream.read(n - len(self._ahead))
            if not data:
                break
            self._ahead += data
        return self._ahead[:n]

    def _read(self, n: int) -> bytes:
        data = self._peek(n)
        self._ahead = self._ahead[len(data) :]
        return data

    def _readline(self) -> bytes:
        line = b""
        while not line.endswith(b"\n"):
            if not self._ahead:
                self._ahead = self._stream.readline(8192)
                if not self._ahead:
                    break
            cut = self._ahead.find(b"\n") + 1 or len(self._ahead)
            line, self._ahead = line + self._ahead[:cut], self._ahead[cut:]
        return line

    def at_last_boundary(self) -> bool:
        """True when the closing boundary comes next."""
        return self._peek(len(self.last_boundary)) == self.last_boundary

    def next_part(self, tmp_dir: Path) -> tuple[dict[str, str], Path]:
        """Read one part: its headers and its content in a checked part file."""
        if self._read(len(self.boundary)) != self.boundary:
            raise BadRequest("Boundary not found where it should be.")
        headers: dict[str, str] = {}
        while (line := self._readline()) != b"\r\n":
            if not line or b":" not in line:
                raise BadRequest("An error occurred while reading headers of a part")
            key, _, value = line.decode("utf-8", "replace").partition(":")
            headers[key.strip().lower()] = value.strip()
        if "content-length" not in headers:
            raise BadRequest("The Content-Length header must not be null.")
        if "x-file-md5" not in headers:
            raise BadRequest("The X-File-MD5 header must not be null.")
        part = self._content(_php_int(headers["content-length"]), headers["x-file-md5"], tmp_dir)
        self._read(2)  # the part's closing "\r\n", as Nextcloud: read, not checked
        return headers, part

    def _content(self, length: int, md5: str, tmp_dir: Path) -> Path:
        digest = hashlib.md5(usedforsecurity=False)
        fd, name = tempfile.mkstemp(dir=tmp_dir, suffix=".bulk")
        part = Path(name)
        left = length
        try:
            with os.fdopen(fd, "wb") as out:
                while left > 0 and (data := self._read(min(BUFFER, left))):
                    out.write(data)
                    digest.update(data)
                    left -= len(data)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        if digest.hexdigest() != md5 or left:
            part.unlink(missing_ok=True)
            raise BadRequest("Computed md5 hash is incorrect.")
        return part


def _php_int(value: str) -> int:
    """PHP's ``(int)`` of a header value: leading digits, else 0."""
    digits = ""
    for ch in value.strip():
        if not ch.isdigit():
            break
        digits += ch
    return int(digits) if digits else 0


def _mtime(headers: dict[str, str]) -> int | None:
    """MtimeSanitizer: X-File-Mtime, else X-OC-Mtime; FileRefused when not a valid time."""
    raw = headers.get("x-file-mtime", headers.get("x-oc-mtime"))
    if raw is None:
        return None
    if not _PHP_NUMERIC.match(raw):  # is_numeric(); hexadecimal is not numeric
        raise FileRefused("X-OC-MTime header must be an integer (unix timestamp).")
    value = min(float(raw), 2.0**62)  # PHP clamps huge values; so do we
    if int(value) <= MIN_MTIME:
        raise FileRefused("X-OC-MTime header must be a valid positive integer")
    return int(value)


def _store(
    ctx: Context, uid: str, path: str, headers: dict[str, str], part: Path
) -> dict[str, Any]:
    """Write one checked part to ``path`` below ``uid``'s files (newFile's rules)."""
    mtime = _mtime(headers)
    rel = path.strip("/")
    if not rel:
        raise FileRefused("Could not create as provided path is empty")
    segments = rel.split("/")
    if any(s in ("", ".", "..") for s in segments):
        raise FileRefused(f'Invalid path "{path}"')
    reason = ctx.rules.check(segments[-1])
    if reason:
        raise FileRefused(reason)
    disk = ctx.files_root(uid).joinpath(*segments)
    could_not = f'Could not create path "/{uid}/files/{rel}"'
    if not disk.parent.is_dir() or disk.is_dir():
        raise FileRefused(could_not)
    free = ctx.free_bytes(uid)
    # The quota wrapper's file_put_contents: written only while the content is under free.
    if free is not None and part.stat().st_size >= free:
        raise FileRefused(could_not)
    try:
        with ctx.writing(uid, rel):
            os.replace(part, disk)
            if mtime is not None:
                os.utime(disk, (mtime, mtime))
            ctx.meta.set_checksum(uid, rel, None)
            ctx.meta.touch(uid, rel)
    except FileBusy:
        raise FileRefused(f'"{rel}" is locked') from None
    return {
        "error": False,
        "etag": ctx.meta.etag(uid, rel, disk),
        "fileid": f"{ctx.meta.fileid(uid, rel):08d}{INSTANCE_ID}",
        "permissions": "RGDNVW",
    }


def _json(start_response: StartResponse, code: int, written: dict[str, Any]) -> list[bytes]:
    # PHP's json_encode: an empty array is "[]", slashes are escaped, non-ASCII as \\uXXXX.
    text = json.dumps(written) if written else "[]"
    body = text.replace("/", "\\/").encode("ascii")
    # Sabre sets no Content-Type here; PHP's default one goes out.
    return respond(start_response, code, body, content_type="text/html; charset=UTF-8")
