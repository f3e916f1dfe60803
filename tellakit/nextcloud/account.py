"""Server and account checks: status.php, capabilities, the current user, app passwords.

Parsing is split from I/O: ``parse_status``, ``parse_capabilities`` and ``parse_user`` are
pure and tested without a server.
"""

from __future__ import annotations

from typing import Any

import requests

from tellakit.errors import (
    NotNextcloud,
    ServerUnavailable,
    TwoFactorRequired,
    UnexpectedResponse,
)
from tellakit.nextcloud.models import Capabilities, NameRules, UserInfo
from tellakit.nextcloud.session import (
    NextcloudSession,
    error_for_response,
    is_password_login_forbidden,
    path_of,
)

OCS_HEADERS = {"OCS-APIRequest": "true", "Accept": "application/json"}


def no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """An auth hook that sends nothing: anonymous endpoints never get the password."""
    return request


def parse_status(data: Any, url: str) -> dict:
    """Check a status.php document; return it, or raise NotNextcloud / ServerUnavailable."""
    if not isinstance(data, dict) or "installed" not in data or "version" not in data:
        raise NotNextcloud(
            f"GET {path_of(url)}: this address answers, but not as a Nextcloud server "
            "(no valid status.php). Check the server address.",
            method="GET",
            path=path_of(url),
        )
    if not data.get("installed"):
        raise NotNextcloud(
            f"GET {path_of(url)}: Nextcloud is not installed on this server yet.",
            method="GET",
            path=path_of(url),
        )
    if data.get("maintenance") or data.get("needsDbUpgrade"):
        raise ServerUnavailable(
            f"GET {path_of(url)}: the server is in maintenance mode; try again later.",
            status=503,
            method="GET",
            path=path_of(url),
        )
    return data


def fetch_status(session: NextcloudSession, base_url: str) -> dict:
    """GET status.php without credentials and check it (see ``parse_status``)."""
    url = f"{base_url}/status.php"
    resp = session.request_checked(
        "GET", url, ok=range(100, 600), auth=no_auth, allow_redirects=True
    )
    data: Any = None
    try:
        data = resp.json()
    except ValueError:
        data = None
    if resp.status_code == 200 or (isinstance(data, dict) and "installed" in data):
        return parse_status(data, url)
    if resp.status_code >= 500:
        raise error_for_response(resp, "GET", url, secret=session.scrub_secret)
    return parse_status(None, url)


def _ocs_data(resp: requests.Response, url: str) -> Any:
    try:
        return resp.json()["ocs"]["data"]
    except (ValueError, KeyError, TypeError):
        raise UnexpectedResponse(
            f"GET {path_of(url)}: the server's answer is not an OCS JSON document.",
            status=resp.status_code,
            method="GET",
            path=path_of(url),
        ) from None


def _lower_set(value: Any) -> frozenset[str] | None:
    if isinstance(value, dict):  # PHP arrays with gaps arrive as JSON objects
        value = list(value.values())
    if not isinstance(value, list):
        return None
    return frozenset(str(v).lower() for v in value if isinstance(v, str))


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def parse_capabilities(data: Any) -> Capabilities:
    """Build ``Capabilities`` from the OCS ``data`` of cloud/capabilities."""
    data = data if isinstance(data, dict) else {}
    caps = data.get("capabilities") or {}
    caps = caps if isinstance(caps, dict) else {}
    files = caps.get("files") or {}
    dav = caps.get("dav") or {}
    chunked = files.get("chunked_upload") or {}
    default = NameRules()
    names = _lower_set(files.get("forbidden_filenames"))
    if names is None:
        names = _lower_set(files.get("blacklisted_files"))
    chars = _lower_set(files.get("forbidden_filename_characters"))
    exts = _lower_set(files.get("forbidden_filename_extensions"))
    bases = _lower_set(files.get("forbidden_filename_basenames"))
    rules = NameRules(
        forbidden_names=names if names is not None else default.forbidden_names,
        forbidden_basenames=bases if bases is not None else default.forbidden_basenames,
        # "/" and "\\" are refused by the validator whatever the capability lists.
        forbidden_characters=(chars or frozenset()) | default.forbidden_characters,
        # ".part" is always added by the server.
        forbidden_extensions=(exts if exts is not None else default.forbidden_extensions)
        | frozenset({".part"}),
    )
    version = data.get("version") or {}
    checksums = caps.get("checksums") or {}
    types = checksums.get("supportedTypes") if isinstance(checksums, dict) else None
    max_size = _int_or_none(chunked.get("max_size"))
    max_parallel = _int_or_none(chunked.get("max_parallel_count"))
    return Capabilities(
        version=str(version.get("string", "")) if isinstance(version, dict) else "",
        chunking=str(dav["chunking"]) if dav.get("chunking") is not None else None,
        max_chunk_size=max_size if max_size and max_size > 0 else None,
        max_parallel=max_parallel if max_parallel and max_parallel > 0 else None,
        bulkupload=bool(dav.get("bulkupload")),
        checksum_types=tuple(str(t).upper() for t in types) if isinstance(types, list) else (),
        name_rules=rules,
        raw=caps,
    )


def fetch_capabilities(session: NextcloudSession, base_url: str) -> Capabilities:
    """GET /ocs/v1.php/cloud/capabilities (authenticated) and parse it."""
    url = f"{base_url}/ocs/v1.php/cloud/capabilities?format=json"
    resp = session.request_checked("GET", url, ok=(200,), headers=OCS_HEADERS)
    return parse_capabilities(_ocs_data(resp, url))


def parse_user(data: Any) -> UserInfo:
    """Build ``UserInfo`` from the OCS ``data`` of cloud/user (``id`` is the DAV user id)."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
        raise ValueError("cloud/user data has no user id")
    raw_quota = data.get("quota")
    quota: dict = raw_quota if isinstance(raw_quota, dict) else {}

    def q(key: str) -> int | None:
        value = _int_or_none(quota.get(key))
        return value if value is not None and value >= 0 else None

    display = data.get("display-name") or data.get("displayname") or data["id"]
    return UserInfo(
        id=data["id"],
        display_name=str(display),
        quota_free=q("free"),
        quota_used=q("used"),
        quota_total=q("total"),
    )


def fetch_current_user(session: NextcloudSession, base_url: str) -> UserInfo:
    """GET /ocs/v2.php/cloud/user; 401 becomes AuthenticationFailed or TwoFactorRequired.

    OCS answers a 2FA account's main password with a plain 401 (the exception is swallowed in
    ``Session::tryBasicAuthLogin``), while WebDAV answers ``PasswordLoginForbidden``; so on 401
    one anonymous-path DAV probe tells the two apart.
    """
    url = f"{base_url}/ocs/v2.php/cloud/user?format=json"
    resp = session.request_checked("GET", url, ok=(200, 401), headers=OCS_HEADERS)
    if resp.status_code == 401:
        raise _classify_401(session, base_url, resp, url)
    try:
        return parse_user(_ocs_data(resp, url))
    except ValueError:
        raise UnexpectedResponse(
            f"GET {path_of(url)}: the answer names no user id.",
            status=resp.status_code,
            method="GET",
            path=path_of(url),
        ) from None


def _classify_401(
    session: NextcloudSession, base_url: str, resp: requests.Response, url: str
) -> Exception:
    first = error_for_response(resp, "GET", url, secret=session.scrub_secret)
    if isinstance(first, TwoFactorRequired):
        return first
    probe_url = f"{base_url}/remote.php/dav/"
    try:
        probe = session.request(
            "PROPFIND", probe_url, headers={"Depth": "0"}, allow_redirects=False
        )
    except requests.RequestException:
        return first
    if is_password_login_forbidden(probe):
        return error_for_response(probe, "PROPFIND", probe_url, secret=session.scrub_secret)
    return first


def revoke_app_password(session: NextcloudSession, base_url: str) -> None:
    """DELETE /ocs/v2.php/core/apppassword: the app password the session uses stops working.

    The server answers 403 when the session's password is not an app password.
    """
    url = f"{base_url}/ocs/v2.php/core/apppassword?format=json"
    session.request_checked("DELETE", url, ok=(200,), headers=OCS_HEADERS)
