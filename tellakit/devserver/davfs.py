"""wsgidav resources with Nextcloud's behaviour: file ids, etags up the tree, checksums,
part files (an interrupted PUT leaves the old content), X-OC-MTime and X-Hash."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from wsgidav import util
from wsgidav.dav_error import HTTP_FORBIDDEN, HTTP_METHOD_NOT_ALLOWED, HTTP_NOT_FOUND, DAVError
from wsgidav.dav_provider import DAVNonCollection
from wsgidav.fs_dav_provider import FileResource, FilesystemProvider, FolderResource
from wsgidav.util import etree

from tellakit.devserver.bodyio import receive
from tellakit.devserver.context import Context
from tellakit.devserver.meta import INSTANCE_ID, tree_size

OC = "{http://owncloud.org/ns}"
NC = "{http://nextcloud.org/ns}"
# Nextcloud's prefixes in multistatus bodies (d:, oc:, nc:) instead of ns0:, ns1:.
for _prefix, _uri in (
    ("d", "DAV:"),
    ("s", "http://sabredav.org/ns"),
    ("oc", "http://owncloud.org/ns"),
    ("nc", "http://nextcloud.org/ns"),
):
    ElementTree.register_namespace(_prefix, _uri)

HASHES = {"md5": "MD5", "sha1": "SHA1", "sha256": "SHA256"}


#: The ``X-Hash`` values File::put understands, compared exactly as PHP does (one value,
#: lower case); anything else (other case, lists, unknown names) gets no hash headers.
X_HASH_VALUES = {"md5": ["md5"], "sha1": ["sha1"], "sha256": ["sha256"], "all": list(HASHES)}


def wanted_hashes(environ: dict[str, Any], ctx: Context) -> list[str]:
    """Algorithms an ``X-Hash`` request header asks for (none when the profile has no X-Hash)."""
    if not ctx.profile.x_hash:
        return []
    return list(X_HASH_VALUES.get(environ.get("HTTP_X_HASH", ""), []))


class PartWriter:
    """Writes a PUT body to a part file, hashing and counting on the way.

    wsgidav hands ``writelines`` its generator of body blocks; the body is read here instead,
    straight from the request into reused buffers (``bodyio.receive``), which is the same
    bytes without a copy per block.
    """

    def __init__(
        self,
        part: Path,
        algorithms: list[str],
        limit: int | None,
        name: str,
        environ: dict[str, Any],
    ) -> None:
        self.part = part
        self.name = name
        self._environ = environ
        self._fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._hashes = {a: hashlib.new(a, usedforsecurity=False) for a in algorithms}
        self._limit = limit
        self.count = 0

    def _check_space(self, count: int) -> None:
        self.count = count
        if self._limit is not None and count > self._limit:
            raise DAVError(
                507,
                f"Insufficient space in {self.name}, {count} required, {self._limit} available",
            )

    def writelines(self, _blocks: Any) -> None:
        """Receive the whole request body (wsgidav's block generator stays unused)."""
        self._environ["wsgidav.some_input_read"] = 1
        self.count = receive(
            self._environ["wsgi.input"],
            self._fd,
            None,
            list(self._hashes.values()),
            self._check_space,
        )
        self._environ["wsgidav.all_input_read"] = 1

    def close(self) -> None:
        """Close the part file (idempotent)."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def hexdigests(self) -> dict[str, str]:
        """The hashes of what was written (after ``close``)."""
        return {a: h.hexdigest() for a, h in self._hashes.items()}


class NcProvider(FilesystemProvider):
    """Maps ``/{uid}/path`` (or, in legacy mode, ``/path`` of the signed-in user) to disk."""

    def __init__(self, ctx: Context, *, legacy: bool) -> None:
        super().__init__(str(ctx.data_dir), fs_opts={})
        self.ctx = ctx
        self.legacy = legacy

    def split(self, path: str, environ: dict[str, Any] | None) -> tuple[str, str]:
        """(uid, path below the user's files root, no leading slash)."""
        clean = path.strip("/")
        if self.legacy:
            uid = (environ or {}).get("tellakit.uid", "")
            return uid, clean
        uid, _, rel = clean.partition("/")
        return uid, rel

    def _loc_to_file_path(self, path: str, environ: dict[str, Any] | None = None) -> str:
        uid, rel = self.split(path, environ)
        if not uid or self.ctx.users.get(uid) is None:
            raise DAVError(HTTP_FORBIDDEN)
        root = os.path.realpath(self.ctx.files_root(uid))
        file_path = os.path.abspath(os.path.join(root, *rel.split("/"))) if rel else root
        if os.path.commonpath([root, os.path.realpath(file_path)]) != root:
            raise DAVError(HTTP_FORBIDDEN, "Access outside root is not allowed")
        return file_path

    def get_resource_inst(self, path: str, environ: dict[str, Any]) -> Any:
        self._count_get_resource_inst += 1
        fp = self._loc_to_file_path(path, environ)
        if not os.path.exists(fp) or os.path.islink(fp):
            return None
        if os.path.isdir(fp):
            return NcFolder(path, environ, fp)
        return NcFile(path, environ, fp)


class _NcMixin:
    """Nextcloud's live properties, shared by files and folders."""

    path: str
    environ: dict[str, Any]
    provider: Any
    _file_path: str
    is_collection: bool

    @property
    def ctx(self) -> Context:
        return self.provider.ctx

    @property
    def uid_rel(self) -> tuple[str, str]:
        return self.provider.split(self.path, self.environ)

    def nc_etag(self) -> str:
        uid, rel = self.uid_rel
        return self.ctx.meta.etag(uid, rel, None if self.is_collection else Path(self._file_path))

    def nc_size(self) -> int:
        if self.is_collection:
            return tree_size(Path(self._file_path))
        return os.path.getsize(self._file_path) if os.path.exists(self._file_path) else 0

    def nc_property(self, name: str) -> Any:
        """Value of a Nextcloud property, or raise 404 (unknown or not set)."""
        uid, rel = self.uid_rel
        meta = self.ctx.meta
        if name == "{DAV:}getetag":
            return f'"{self.nc_etag()}"'
        if name == f"{OC}fileid":
            return str(meta.fileid(uid, rel))
        if name == f"{OC}id":
            return f"{meta.fileid(uid, rel):08d}{INSTANCE_ID}"
        if name == f"{OC}size":
            return str(self.nc_size())
        if name == f"{OC}permissions":
            return "RGDNVCK" if self.is_collection else "RGDNVW"
        if name == f"{OC}owner-id":
            return uid
        if name == f"{OC}owner-display-name":
            user = self.ctx.users.get(uid)
            return user.display_name if user else uid
        if name == f"{OC}checksums" and not self.is_collection:
            stored = meta.checksum(uid, rel)
            if stored:
                el = etree.Element(name)
                for value in stored.replace(",", " ").split():
                    etree.SubElement(el, f"{OC}checksum").text = value
                return el
        if name in ("{DAV:}quota-available-bytes", "{DAV:}quota-used-bytes") and (
            self.is_collection
        ):
            free = self.ctx.free_bytes(uid)
            if name == "{DAV:}quota-used-bytes":
                return str(self.nc_size())
            return "-3" if free is None else str(free)
        raise DAVError(HTTP_NOT_FOUND)

    def touch(self) -> None:
        uid, rel = self.uid_rel
        self.ctx.meta.touch(uid, rel)


class NcFile(_NcMixin, FileResource):
    """A file; may stand for one not written yet (a new PUT target)."""

    def __init__(self, path: str, environ: dict[str, Any], file_path: str) -> None:
        DAVNonCollection.__init__(self, path, environ)
        self._file_path = file_path
        self.name = util.to_str(os.path.basename(file_path))
        self._writer: PartWriter | None = None
        self._stat()

    def _stat(self) -> None:
        try:
            self.file_stat = os.stat(self._file_path)
        except FileNotFoundError:
            self.file_stat = os.stat_result((0o100644, 0, 0, 1, 0, 0, 0, 0, 0, 0))

    def get_etag(self) -> str:
        return self.nc_etag()

    def get_property_value(self, name: str) -> Any:
        if name in ("{DAV:}quota-available-bytes", "{DAV:}quota-used-bytes"):
            raise DAVError(HTTP_NOT_FOUND)
        try:
            return self.nc_property(name)
        except DAVError:
            return FileResource.get_property_value(self, name)

    def begin_write(self, *, content_type: str | None = None) -> PartWriter:
        uid, _rel = self.uid_rel
        fd, part = tempfile.mkstemp(dir=self.ctx.tmp_dir, suffix=".part")
        os.close(fd)
        free = self.ctx.free_bytes(uid)
        self._writer = PartWriter(
            Path(part), wanted_hashes(self.environ, self.ctx), free, self.name, self.environ
        )
        return self._writer

    def end_write(self, *, with_errors: bool) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        if with_errors:
            writer.close()
            writer.part.unlink(missing_ok=True)
            return
        expected = self.environ.get("tellakit.expected_length")
        if expected is not None and writer.count != expected:
            writer.part.unlink(missing_ok=True)
            raise DAVError(
                400,
                f"Expected filesize of {expected} bytes but read (from Nextcloud client) and "
                f"wrote (to Nextcloud storage) {writer.count} bytes. Could either be a network "
                "problem on the sending side or a problem writing to the storage on the server "
                "side.",
            )
        os.replace(writer.part, self._file_path)
        uid, rel = self.uid_rel
        mtime = self.environ.get("tellakit.mtime")
        if mtime is not None:
            os.utime(self._file_path, (mtime, mtime))
            self.environ["tellakit.mtime_accepted"] = True
        self.ctx.meta.set_checksum(uid, rel, self.environ.get("HTTP_OC_CHECKSUM") or None)
        self.ctx.meta.touch(uid, rel)
        self.environ["tellakit.hashes"] = writer.hexdigests()
        self._stat()

    def delete(self) -> None:
        FileResource.delete(self)
        uid, rel = self.uid_rel
        self.ctx.meta.forget(uid, rel)

    def copy_move_single(self, dest_path: str, *, is_move: bool) -> None:
        FileResource.copy_move_single(self, dest_path, is_move=is_move)
        _record_copy_move(self, dest_path, is_move=is_move)

    def move_recursive(self, dest_path: str) -> None:
        FileResource.move_recursive(self, dest_path)
        _record_copy_move(self, dest_path, is_move=True)

    def set_last_modified(self, dest_path: str, time_stamp: Any, *, dry_run: bool) -> bool:
        result = FileResource.set_last_modified(self, dest_path, time_stamp, dry_run=dry_run)
        if not dry_run:
            self.touch()
        return bool(result)


class NcFolder(_NcMixin, FolderResource):
    """A folder."""

    def get_etag(self) -> str:
        return self.nc_etag()

    def support_etag(self) -> bool:
        return True

    def get_property_value(self, name: str) -> Any:
        try:
            return self.nc_property(name)
        except DAVError:
            return FolderResource.get_property_value(self, name)

    def get_used_bytes(self) -> int:
        return self.nc_size()

    def get_available_bytes(self) -> int:
        free = self.ctx.free_bytes(self.uid_rel[0])
        return -3 if free is None else free

    def create_empty_resource(self, name: str) -> NcFile:
        # Unlike wsgidav, create nothing yet: the part file is renamed into place only
        # when the whole body arrived, as Nextcloud does.
        path = util.join_uri(self.path, name)
        return NcFile(path, self.environ, self.provider._loc_to_file_path(path, self.environ))

    def create_collection(self, name: str) -> None:
        try:
            FolderResource.create_collection(self, name)
        except FileExistsError:
            # Two MKCOLs raced past wsgidav's existence check: the loser gets Nextcloud's 405.
            raise DAVError(HTTP_METHOD_NOT_ALLOWED) from None
        uid, rel = self.provider.split(util.join_uri(self.path, name), self.environ)
        self.ctx.meta.touch(uid, rel)

    def delete(self) -> None:
        FolderResource.delete(self)
        uid, rel = self.uid_rel
        self.ctx.meta.forget(uid, rel)

    def copy_move_single(self, dest_path: str, *, is_move: bool) -> None:
        FolderResource.copy_move_single(self, dest_path, is_move=is_move)
        _record_copy_move(self, dest_path, is_move=is_move)

    def move_recursive(self, dest_path: str) -> None:
        FolderResource.move_recursive(self, dest_path)
        _record_copy_move(self, dest_path, is_move=True)

    def set_last_modified(self, dest_path: str, time_stamp: Any, *, dry_run: bool) -> bool:
        result = FolderResource.set_last_modified(self, dest_path, time_stamp, dry_run=dry_run)
        if not dry_run:
            self.touch()
        return bool(result)


def _record_copy_move(res: _NcMixin, dest_path: str, *, is_move: bool) -> None:
    uid, rel = res.uid_rel
    dest_uid, dest_rel = res.provider.split(dest_path, res.environ)
    if dest_uid != uid:
        raise DAVError(HTTP_FORBIDDEN)
    if is_move:
        res.ctx.meta.move(uid, rel, dest_rel)
    else:
        res.ctx.meta.copy(uid, rel, dest_rel)
