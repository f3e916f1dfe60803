"""OCS API: envelopes of v1 and v2, capabilities, current user, app passwords."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from tellakit.devserver import bulk
from tellakit.devserver.context import Context
from tellakit.devserver.responses import Environ, StartResponse, respond
from tellakit.devserver.users import Identity


def version_data(ctx: Context) -> dict[str, Any]:
    """The ``version`` block of capabilities for the server's profile."""
    major, minor, micro = (int(p) for p in ctx.profile.version.split("."))
    return {
        "major": major,
        "minor": minor,
        "micro": micro,
        "string": ctx.profile.version,
        "edition": "",
        "extendedSupport": False,
    }


def status_document(ctx: Context) -> dict[str, Any]:
    """What ``/status.php`` answers."""
    return {
        "installed": True,
        "maintenance": ctx.maintenance,
        "needsDbUpgrade": False,
        "version": f"{ctx.profile.version}.2",
        "versionstring": ctx.profile.version,
        "edition": "",
        "productname": "Nextcloud",
        "extendedSupport": False,
    }


class OcsError(Exception):
    """An OCS failure: statuscode and message for the envelope."""

    def __init__(self, statuscode: int, message: str) -> None:
        super().__init__(message)
        self.statuscode = statuscode
        self.message = message


class CsrfFailed(Exception):
    """The request lacked ``OCS-APIRequest: true``."""


def wants_json(environ: Environ) -> bool:
    """``?format=json`` or ``Accept: application/json``."""
    query = parse_qs(environ.get("QUERY_STRING", ""))
    fmt = (query.get("format") or [""])[0].lower()
    if fmt:
        return fmt == "json"
    return "application/json" in environ.get("HTTP_ACCEPT", "").lower()


def _xml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "".join(f"<{k}>{_xml_value(v)}</{k}>" for k, v in value.items())
    if isinstance(value, list):
        return "".join(f"<element>{_xml_value(v)}</element>" for v in value)
    if value is True:
        return "1"
    if value is False or value is None:
        return ""
    return escape(str(value))


def ocs_response(
    environ: Environ,
    start_response: StartResponse,
    version: int,
    data: Any,
    *,
    statuscode: int | None = None,
    message: str = "",
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    """Wrap ``data`` in the envelope of OCS ``version`` (1 or 2) and answer it."""
    ok = statuscode is None
    if ok:
        statuscode = 100 if version == 1 else 200
        message = "OK"
    assert statuscode is not None
    if version == 1:
        http = 401 if statuscode == 997 else 200
    else:
        http = {997: 401, 998: 404, 996: 500, 999: 500}.get(statuscode, statuscode)
        if http < 200 or http > 599:
            http = 400
    meta: dict[str, Any] = {
        "status": "ok" if ok else "failure",
        "statuscode": statuscode,
        "message": message,
    }
    if version == 1:
        meta.update({"totalitems": "", "itemsperpage": ""})
    if wants_json(environ):
        body = json.dumps({"ocs": {"meta": meta, "data": data}}).encode()
        ctype = "application/json; charset=utf-8"
    else:
        body = (
            '<?xml version="1.0"?>\n<ocs>\n <meta>'
            + _xml_value(meta)
            + "</meta>\n <data>"
            + _xml_value(data)
            + "</data>\n</ocs>\n"
        ).encode()
        ctype = "application/xml; charset=utf-8"
    return respond(start_response, http, body, content_type=ctype, headers=headers)


def capabilities(ctx: Context) -> dict[str, Any]:
    """What ``cloud/capabilities`` answers."""
    files: dict[str, Any] = {
        "bigfilechunking": True,
        "blacklisted_files": list(ctx.rules.forbidden_filenames),
        "undelete": False,
        "versioning": False,
    }
    if ctx.profile.major >= 30:  # FilenameValidator and ChunkedUploadConfig came with 30
        files["chunked_upload"] = {"max_size": ctx.max_chunk_size, "max_parallel_count": 5}
        files["windows_compatible_filenames"] = ctx.rules.forbidden_basenames != []
        files.update(ctx.rules.capabilities())
    return {
        "version": version_data(ctx),
        "capabilities": {
            "core": {
                "pollinterval": 60,
                "webdav-root": "remote.php/webdav",
                "reference-api": False,
                "mod-rewrite-working": False,
            },
            "dav": {"chunking": "1.0", **bulk.capability(ctx)},
            "files": files,
            # No "checksums" capability: Nextcloud does not advertise one (OC-Checksum is
            # stored, never checked).
        },
    }


def user_data(ctx: Context, uid: str) -> dict[str, Any]:
    """What ``cloud/user`` answers about ``uid``."""
    user = ctx.users.get(uid)
    assert user is not None
    used = ctx.used_bytes(uid)
    if user.quota is None:
        quota: dict[str, Any] = {
            "free": 1 << 40,
            "used": used,
            "total": used + (1 << 40),
            "relative": 0.0,
            "quota": -3,
        }
    else:
        total = user.quota
        quota = {
            "free": max(0, total - used),
            "used": used,
            "total": total,
            "relative": round(used * 100.0 / total, 2) if total else 100.0,
            "quota": total,
        }
    return {
        "enabled": True,
        "id": user.uid,
        "lastLogin": 0,
        "backend": "Database",
        "subadmin": [],
        "quota": quota,
        "email": user.login if "@" in user.login else None,
        "displayname": user.display_name,
        "display-name": user.display_name,
        "phone": "",
        "address": "",
        "website": "",
        "twitter": "",
        "groups": ["users"],
        "language": "en",
        "locale": "",
        "backendCapabilities": {"setDisplayName": True, "setPassword": True},
    }


def handle_ocs(
    ctx: Context,
    environ: Environ,
    start_response: StartResponse,
    version: int,
    route: str,
    identity: Identity | None,
) -> list[bytes]:
    """Answer one OCS route (``route`` is the part after ``/ocs/vN.php/``)."""
    method = environ.get("REQUEST_METHOD", "GET").upper()
    maint_headers = [("X-Nextcloud-Maintenance-Mode", "1")] if ctx.maintenance else None
    if ctx.maintenance:
        # ocs/v1.php answers 503 with this header before any route runs.
        return ocs_response(
            environ,
            start_response,
            version,
            [],
            statuscode=503,
            message="Service unavailable",
            headers=maint_headers,
        )
    route = route.strip("/")
    try:
        if route == "cloud/capabilities" and method == "GET":
            return ocs_response(environ, start_response, version, capabilities(ctx))
        if route in (
            "cloud/user",
            "core/getapppassword",
            "core/apppassword",
            "core/apppassword/rotate",
        ):
            return _user_route(ctx, environ, start_response, version, route, method, identity)
        return _unknown_route()
    except CsrfFailed:
        return respond(
            start_response,
            412,
            json.dumps({"message": "CSRF check failed"}).encode(),
            content_type="application/json; charset=utf-8",
        )
    except OcsError as err:
        return ocs_response(
            environ, start_response, version, [], statuscode=err.statuscode, message=err.message
        )


def _unknown_route() -> list[bytes]:
    raise OcsError(
        998,
        "Invalid query, please check the syntax. API specifications are here: "
        "http://www.freedesktop.org/wiki/Specifications/open-collaboration-services.",
    )


def _user_route(
    ctx: Context,
    environ: Environ,
    start_response: StartResponse,
    version: int,
    route: str,
    method: str,
    identity: Identity | None,
) -> list[bytes]:
    if identity is None:
        raise OcsError(997, "Current user is not logged in")
    if environ.get("HTTP_OCS_APIREQUEST", "").lower() != "true":
        # Without the header (and without a session's request token) the CSRF check of
        # Nextcloud's SecurityMiddleware fails; its plain JSON answer is not converted to
        # an OCS envelope by OCSMiddleware (which converts only 401 and 403).
        raise CsrfFailed
    if route == "cloud/user" and method == "GET":
        return ocs_response(environ, start_response, version, user_data(ctx, identity.uid))
    if route == "core/getapppassword" and method == "GET":
        if identity.is_app_password:
            raise OcsError(403, "You cannot request an new apppassword with an apppassword")
        ua = environ.get("HTTP_USER_AGENT", "unknown")
        secret = ctx.users.create_app_password(identity.uid, login=identity.login, name=ua)
        return ocs_response(environ, start_response, version, {"apppassword": secret})
    if route == "core/apppassword" and method == "DELETE":
        if not identity.is_app_password:
            raise OcsError(403, "no app password in use")
        assert identity.app_password is not None
        ctx.users.revoke_app_password(identity.app_password)
        return ocs_response(environ, start_response, version, [])
    if route == "core/apppassword/rotate" and method == "POST":
        if not identity.is_app_password:
            raise OcsError(403, "no app password in use")
        assert identity.app_password is not None
        ctx.users.revoke_app_password(identity.app_password)
        secret = ctx.users.create_app_password(identity.uid, login=identity.login, name="rotated")
        return ocs_response(environ, start_response, version, {"apppassword": secret})
    raise OcsError(998, "Invalid query")
