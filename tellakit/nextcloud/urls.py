"""Server URL handling: normalize what a person pastes, refuse plain http off loopback.

Pure functions, no network access (a host name is never resolved to decide "loopback").
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote, urlsplit, urlunsplit

from tellakit.errors import ConnectionSettingsError, InsecureURL

# Path tails that belong to a Nextcloud endpoint rather than to the install's base path.
# Everything from the first match on is dropped: "https://h/nc/remote.php/dav/files/alice/x"
# -> "https://h/nc".
_ENDPOINT_TAIL = re.compile(
    r"/(?:index\.php|remote\.php|public\.php|status\.php|ocs|login|apps|s|f|settings)(?:/.*)?$",
    re.IGNORECASE,
)


def is_loopback_host(host: str) -> bool:
    """True for localhost names and loopback addresses (127.0.0.0/8, ::1), without DNS."""
    host = host.strip().strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalize_server_url(url: str, *, allow_insecure_http: bool = False) -> str:
    """Return the canonical base URL of a Nextcloud install, e.g. ``https://cloud.example/nc``.

    Accepts what people paste: no scheme (https is assumed), trailing slashes, ``/index.php``,
    a WebDAV URL (``.../remote.php/dav/files/alice/``), a login page. Credentials in the URL
    (``https://user:pw@host``) are dropped, as are query and fragment.

    Raises ``InsecureURL`` for plain http to a non-loopback host unless ``allow_insecure_http``,
    and ``ConnectionSettingsError`` for something that is not an http(s) URL with a host.
    """
    text = url.strip()
    if not text:
        raise ConnectionSettingsError("The server address is empty.")
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ConnectionSettingsError(
            "The server address is not a valid URL (check the port)."
        ) from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ConnectionSettingsError(
            f"The server address must start with https:// (got {scheme}://)."
        )
    host = (parts.hostname or "").lower()
    if not host:
        raise ConnectionSettingsError("The server address has no host name.")
    if scheme == "http" and not allow_insecure_http and not is_loopback_host(host):
        raise InsecureURL(
            f"Refusing plain http:// to {host}: the password and every file would travel "
            "unencrypted. Use https://, or opt in explicitly (allow_insecure_http=True) for a "
            "server you trust on a closed network."
        )
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and not (
        (scheme == "https" and port == 443) or (scheme == "http" and port == 80)
    ):
        netloc += f":{port}"
    path = re.sub(r"/{2,}", "/", parts.path)
    path = _ENDPOINT_TAIL.sub("", path).rstrip("/")
    return urlunsplit((scheme, netloc, path, "", ""))


def check_scheme(url: str, *, allow_insecure_http: bool = False) -> None:
    """Raise ``InsecureURL`` for an http URL to a non-loopback host (used on server-given URLs)."""
    parts = urlsplit(url)
    if (
        parts.scheme.lower() == "http"
        and not allow_insecure_http
        and not is_loopback_host(parts.hostname or "")
    ):
        raise InsecureURL(
            f"The server pointed to plain http:// on {parts.hostname}; refusing without opt-in."
        )


def split_dav_path(path: str) -> list[str]:
    """Split a path below a DAV root into segments, refusing ones that could escape it.

    Leading/trailing slashes are ignored; empty, ``.`` and ``..`` segments raise ValueError
    (a programming error: names are sanitized before they get here).
    """
    segments = [s for s in path.strip("/").split("/")] if path.strip("/") else []
    for seg in segments:
        if seg in ("", ".", ".."):
            raise ValueError(f"Refusing DAV path with an empty, '.' or '..' segment: {path!r}")
    return segments


def quote_dav_path(path: str) -> str:
    """Percent-encode a relative DAV path segment by segment (no leading slash in the result)."""
    return "/".join(quote(seg, safe="") for seg in split_dav_path(path))
