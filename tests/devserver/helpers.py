"""Small helpers for the devserver tests (plain requests + defusedxml)."""

from __future__ import annotations

from typing import Any

import requests
from defusedxml import ElementTree

AUTH = ("alice", "secret")
D = "{DAV:}"
OC = "{http://owncloud.org/ns}"
PROPS = (
    '<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
    "<d:prop><d:getetag/><d:getcontentlength/><d:resourcetype/><oc:fileid/><oc:id/>"
    "<oc:size/><oc:permissions/><oc:checksums/><d:quota-available-bytes/></d:prop></d:propfind>"
)


def files_url(srv: Any, path: str = "", uid: str = "alice") -> str:
    return f"{srv.url}/remote.php/dav/files/{uid}/{path}"


def dav(method: str, url: str, auth: Any = AUTH, **kwargs: Any) -> requests.Response:
    return requests.request(method, url, auth=auth, timeout=30, **kwargs)


def propfind(url: str, depth: str = "0", auth: Any = AUTH) -> dict[str, dict[str, Any]]:
    """href -> {prop local name with ns prefix: text or element} (only 200 propstats)."""
    r = dav("PROPFIND", url, auth=auth, data=PROPS, headers={"Depth": depth})
    assert r.status_code == 207, (r.status_code, r.text)
    out: dict[str, dict[str, Any]] = {}
    for resp in ElementTree.fromstring(r.content).iter(f"{D}response"):
        href = resp.find(f"{D}href").text
        props: dict[str, Any] = {}
        for propstat in resp.iter(f"{D}propstat"):
            if "200" not in propstat.find(f"{D}status").text:
                continue
            for prop in propstat.find(f"{D}prop"):
                props[prop.tag] = prop.text if len(prop) == 0 else prop
        out[href] = props
    return out


def error_parts(r: requests.Response) -> tuple[str, str]:
    """(exception class, message) of a Sabre error body."""
    root = ElementTree.fromstring(r.content)
    exc = root.find("{http://sabredav.org/ns}exception").text
    msg = root.find("{http://sabredav.org/ns}message").text
    return exc, msg
