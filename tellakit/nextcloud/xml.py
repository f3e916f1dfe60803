"""Pure WebDAV XML: PROPFIND bodies and parsers for multistatus and error documents.

No I/O. Everything a server sends is parsed with defusedxml (no entity expansion, no DTDs).
Elements are matched by namespace-qualified name, except the Nextcloud error extras
(``o:reason``, ``o:hint``, ``o:retry``), which the server emits with an odd namespace and which
are therefore matched by local name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from urllib.parse import unquote, urlsplit
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET

from tellakit.nextcloud.models import DavEntry

DAV = "DAV:"
OC = "http://owncloud.org/ns"
NC = "http://nextcloud.org/ns"
SABRE = "http://sabredav.org/ns"

#: Properties asked for by default: enough for listing, resume and verification.
DEFAULT_PROPS: tuple[tuple[str, str], ...] = (
    (DAV, "resourcetype"),
    (DAV, "getcontentlength"),
    (DAV, "getetag"),
    (DAV, "getlastmodified"),
    (DAV, "getcontenttype"),
    (OC, "fileid"),
    (OC, "size"),
    (OC, "permissions"),
    (OC, "checksums"),
)

_PREFIX = {DAV: "d", OC: "oc", NC: "nc"}


def propfind_body(props: tuple[tuple[str, str], ...] = DEFAULT_PROPS) -> bytes:
    """Build a PROPFIND request body asking for ``props`` ((namespace, local name) pairs)."""
    inner = "".join(f"<{_PREFIX[ns]}:{name}/>" for ns, name in props)
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<d:propfind xmlns:d="{DAV}" xmlns:oc="{OC}" xmlns:nc="{NC}">'
        f"<d:prop>{inner}</d:prop></d:propfind>"
    ).encode()


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(el: Element | None) -> str | None:
    if el is None or el.text is None:
        return None
    return el.text.strip()


def _int(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def parse_checksums(values: list[str]) -> dict[str, str]:
    """Parse stored ``oc:checksum`` values ("SHA1:ab.. MD5:cd..") into {"SHA1": "ab..", ...}."""
    out: dict[str, str] = {}
    for value in values:
        for item in value.replace(",", " ").split():
            kind, sep, digest = item.partition(":")
            if sep and kind and digest:
                out[kind.upper()] = digest.lower()
    return out


def strip_etag(value: str | None) -> str | None:
    """``"abc"`` or ``W/"abc"`` -> ``abc``."""
    if value is None:
        return None
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"') or None


def href_to_relative(href: str, root_path: str) -> str:
    """Turn a response href into a path relative to the DAV root ``root_path`` (a URL path).

    ``href`` may be an absolute URL or an absolute path; both it and ``root_path`` are
    percent-encoded (each is decoded once here). Returns the decoded
    relative path without leading/trailing slashes ("" for the root itself). Raises ValueError
    when the href lies outside the root.
    """
    path = unquote(urlsplit(href).path)
    root = unquote(root_path).rstrip("/") + "/"
    if (path.rstrip("/") + "/") == root:
        return ""
    if not path.startswith(root):
        raise ValueError(f"href {href!r} is outside {root_path!r}")
    return path[len(root) :].strip("/")


def parse_multistatus(body: bytes, root_path: str) -> list[DavEntry]:
    """Parse a 207 multistatus body into entries; only props in a 2xx propstat count.

    ``root_path`` is the URL path of the DAV root the paths are made relative to
    (e.g. ``/remote.php/dav/files/alice``).
    """
    root = SafeET.fromstring(body)
    if root.tag != _q(DAV, "multistatus"):
        raise ValueError(f"not a multistatus document: <{root.tag}>")
    entries: list[DavEntry] = []
    for resp in root.findall(_q(DAV, "response")):
        href = _text(resp.find(_q(DAV, "href")))
        if not href:
            continue
        props: dict[str, Element] = {}
        for propstat in resp.findall(_q(DAV, "propstat")):
            status = _text(propstat.find(_q(DAV, "status"))) or ""
            parts = status.split()
            if len(parts) < 2 or not parts[1].startswith("2"):
                continue
            prop = propstat.find(_q(DAV, "prop"))
            if prop is None:
                continue
            for child in prop:
                props[child.tag] = child
        entries.append(_entry(href, root_path, props))
    return entries


def _entry(href: str, root_path: str, props: dict[str, Element]) -> DavEntry:
    rtype = props.get(_q(DAV, "resourcetype"))
    is_dir = rtype is not None and rtype.find(_q(DAV, "collection")) is not None
    size = _int(_text(props.get(_q(DAV, "getcontentlength"))))
    if size is None:
        size = _int(_text(props.get(_q(OC, "size"))))
    modified = None
    lm = _text(props.get(_q(DAV, "getlastmodified")))
    if lm:
        try:
            modified = parsedate_to_datetime(lm)
        except (TypeError, ValueError):
            modified = None
    sums_el = props.get(_q(OC, "checksums"))
    sums: list[str] = []
    if sums_el is not None:
        sums = [c.text for c in sums_el if c.text] or ([sums_el.text] if sums_el.text else [])
    return DavEntry(
        path=href_to_relative(href, root_path),
        href=href,
        is_dir=is_dir,
        size=size,
        etag=strip_etag(_text(props.get(_q(DAV, "getetag")))),
        file_id=_text(props.get(_q(OC, "fileid"))),
        checksums=parse_checksums(sums),
        last_modified=modified,
        permissions=_text(props.get(_q(OC, "permissions"))),
        content_type=_text(props.get(_q(DAV, "getcontenttype"))),
    )


@dataclass(frozen=True)
class DavError:
    """The useful parts of a ``d:error`` body."""

    exception: str | None = None  # e.g. "OCA\\DAV\\Connector\\Sabre\\Exception\\InvalidPath"
    message: str | None = None
    reason: str | None = None  # o:reason (InvalidPath)
    hint: str | None = None  # o:hint (TooManyRequests, PasswordLoginForbidden)
    retry: bool | None = None

    @property
    def exception_name(self) -> str:
        """The class name without its namespace, e.g. ``InvalidPath``."""
        return (self.exception or "").rsplit("\\", 1)[-1]


def parse_dav_error(body: bytes) -> DavError | None:
    """Parse a ``d:error`` document; None when the body is not one (or is not XML at all)."""
    if not body or b"<" not in body[:512]:
        return None
    try:
        root = SafeET.fromstring(body)
    except Exception:  # defusedxml raises several types; any of them means "not a DAV error"
        return None
    if _local(root.tag) != "error":
        return None
    found: dict[str, str] = {}
    for child in root:
        name = _local(child.tag)
        if name not in found and child.text is not None:
            found[name] = child.text.strip()
    retry = found.get("retry")
    return DavError(
        exception=found.get("exception"),
        message=found.get("message"),
        reason=found.get("reason"),
        hint=found.get("hint"),
        retry=None if retry is None else retry.lower() == "true",
    )


def parse_http_date(value: str) -> datetime | None:
    """Parse an HTTP date (for Retry-After); None when it is not one."""
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
