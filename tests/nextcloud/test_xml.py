"""PROPFIND bodies and the multistatus / d:error parsers (pure)."""

from __future__ import annotations

from datetime import datetime, timezone

import defusedxml
import pytest

from tellakit.nextcloud.xml import (
    href_to_relative,
    parse_checksums,
    parse_dav_error,
    parse_multistatus,
    propfind_body,
    strip_etag,
)

MULTISTATUS = b"""<?xml version="1.0"?>
<d:multistatus xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns"
    xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns">
 <d:response><d:href>/nc/remote.php/dav/files/alice/dir/</d:href>
  <d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype>
   <d:getetag>"dir-etag"</d:getetag><oc:size>15000000</oc:size><oc:fileid>12</oc:fileid>
  </d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>
  <d:propstat><d:prop><d:getcontentlength/><oc:checksums/></d:prop>
   <d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>
 </d:response>
 <d:response><d:href>/nc/remote.php/dav/files/alice/dir/T%C3%ADtulo%20(2).bin</d:href>
  <d:propstat><d:prop><d:getcontentlength>15000000</d:getcontentlength>
   <d:getetag>"6436d084d4805"</d:getetag><oc:fileid>259</oc:fileid>
   <d:getlastmodified>Sat, 28 Nov 2026 16:00:00 GMT</d:getlastmodified>
   <oc:checksums><oc:checksum>SHA1:DA39A3EE5E6B4B0D3255BFEF95601890AFD80709
    MD5:d41d8cd98f00b204e9800998ecf8427e</oc:checksum></oc:checksums>
   <oc:permissions>RGDNVW</oc:permissions><d:resourcetype/></d:prop>
   <d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
</d:multistatus>"""


def test_propfind_body_names_requested_props() -> None:
    body = propfind_body()
    assert b"<d:propfind" in body
    for prop in (b"d:getcontentlength", b"oc:checksums", b"oc:fileid", b"d:resourcetype"):
        assert prop in body


def test_parse_multistatus_reads_folder_and_file() -> None:
    folder, file = parse_multistatus(MULTISTATUS, "/nc/remote.php/dav/files/alice")
    assert folder.path == "dir" and folder.is_dir
    assert folder.size == 15000000  # oc:size for folders
    assert folder.etag == "dir-etag" and folder.file_id == "12"
    assert folder.checksums == {}  # the 404 propstat does not count
    assert file.path == "dir/Título (2).bin" and file.name == "Título (2).bin"
    assert not file.is_dir and file.size == 15000000
    assert file.etag == "6436d084d4805" and file.file_id == "259"
    assert file.checksums == {
        "SHA1": "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "MD5": "d41d8cd98f00b204e9800998ecf8427e",
    }
    assert file.permissions == "RGDNVW"
    assert file.last_modified == datetime(2026, 11, 28, 16, 0, tzinfo=timezone.utc)


def test_parse_multistatus_rejects_hrefs_outside_the_root() -> None:
    with pytest.raises(ValueError):
        parse_multistatus(MULTISTATUS, "/remote.php/dav/files/bob")


def test_parse_multistatus_refuses_entity_expansion() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<d:multistatus xmlns:d="DAV:"><d:response><d:href>&b;</d:href></d:response>'
        b"</d:multistatus>"
    )
    with pytest.raises(defusedxml.DefusedXmlException):
        parse_multistatus(bomb, "/")


def test_href_to_relative_accepts_full_urls_and_the_root_itself() -> None:
    root = "/remote.php/dav/uploads/alice/tellakit-1"
    assert href_to_relative("https://h.org/remote.php/dav/uploads/alice/tellakit-1/", root) == ""
    assert href_to_relative("/remote.php/dav/uploads/alice/tellakit-1/00001", root) == "00001"


def test_parse_checksums_accepts_spaces_and_commas() -> None:
    assert parse_checksums(["SHA1:AB, sha256:cd", "bogus"]) == {"SHA1": "ab", "SHA256": "cd"}


def test_strip_etag() -> None:
    assert strip_etag('"abc"') == "abc"
    assert strip_etag('W/"abc"') == "abc"
    assert strip_etag(None) is None


INVALID_PATH = b"""<?xml version="1.0" encoding="utf-8"?>
<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns" xmlns:o="http://owncloud.org/ns">
  <s:exception>OCA\\DAV\\Connector\\Sabre\\Exception\\InvalidPath</s:exception>
  <s:message>"*" is not allowed inside a file or folder name.</s:message>
  <o:retry xmlns:o="o:">false</o:retry>
  <o:reason xmlns:o="o:">"*" is not allowed inside a file or folder name.</o:reason>
</d:error>"""


def test_parse_dav_error_reads_invalid_path_reason() -> None:
    err = parse_dav_error(INVALID_PATH)
    assert err is not None
    assert err.exception_name == "InvalidPath"
    assert err.reason == '"*" is not allowed inside a file or folder name.'
    assert err.retry is False


def test_parse_dav_error_reads_password_login_forbidden_hint() -> None:
    body = (
        b'<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">'
        b"<s:exception>OCA\\DAV\\Connector\\Sabre\\Exception\\PasswordLoginForbidden"
        b'</s:exception><s:message/><o:hint xmlns:o="o:">password login forbidden</o:hint>'
        b"</d:error>"
    )
    err = parse_dav_error(body)
    assert err is not None and err.exception_name == "PasswordLoginForbidden"
    assert err.hint == "password login forbidden"


@pytest.mark.parametrize("body", [b"", b"<html><body>nope</body></html>", b"{}", b"<broken"])
def test_parse_dav_error_returns_none_for_other_bodies(body: bytes) -> None:
    assert parse_dav_error(body) is None
