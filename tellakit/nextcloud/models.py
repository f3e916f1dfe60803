"""Plain data the protocol layer hands out (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Credentials:
    """What it takes to talk to one Nextcloud account.

    ``login`` is the login name as typed (may be an e-mail); the DAV user id comes from
    ``NextcloudClient.current_user()``. ``password`` is never shown in repr.
    """

    server_url: str
    login: str
    password: str = field(repr=False)
    allow_insecure_http: bool = False


@dataclass(frozen=True)
class NameRules:
    """The server's file name rules (capabilities ``files.*`` plus FilenameValidator's fixed ones).

    All lists are lowercase; comparisons are case-insensitive, as on the server.
    """

    forbidden_names: frozenset[str] = frozenset({".htaccess"})
    forbidden_basenames: frozenset[str] = frozenset()
    forbidden_characters: frozenset[str] = frozenset({"/", "\\"})
    forbidden_extensions: frozenset[str] = frozenset({".filepart", ".part"})
    max_bytes: int = 250


@dataclass(frozen=True)
class Capabilities:
    """What the server says it can do (``/ocs/v1.php/cloud/capabilities``)."""

    version: str = ""
    chunking: str | None = None  # dav.chunking, e.g. "1.0"
    max_chunk_size: int | None = None  # files.chunked_upload.max_size (bytes), a hint
    max_parallel: int | None = None  # files.chunked_upload.max_parallel_count, a hint
    bulkupload: bool = False
    checksum_types: tuple[str, ...] = ()  # checksums.supportedTypes, when advertised
    name_rules: NameRules = field(default_factory=NameRules)
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def supports_chunking(self) -> bool:
        """True when the server advertises chunked upload (dav.chunking >= 1.0)."""
        try:
            return self.chunking is not None and float(self.chunking) >= 1.0
        except ValueError:
            return False


@dataclass(frozen=True)
class UserInfo:
    """The logged-in account: ``id`` is the DAV user id (never the display name)."""

    id: str
    display_name: str
    quota_free: int | None = None  # bytes; None when unknown or unlimited
    quota_used: int | None = None
    quota_total: int | None = None


@dataclass(frozen=True)
class PutResult:
    """What the server answered to a PUT or to the final MOVE of a chunked upload.

    ``hashes`` holds lowercase algorithm names -> hex digests from ``X-Hash-*`` headers
    (e.g. ``{"sha256": "ab12..."}``); empty when the server does not offer them.
    """

    status: int
    etag: str | None
    file_id: str | None
    hashes: dict[str, str] = field(default_factory=dict)
    mtime_accepted: bool = False
    created: bool = True  # False when an existing file was replaced (204)


@dataclass(frozen=True)
class DavEntry:
    """One ``d:response`` of a PROPFIND.

    ``path`` is relative to the DAV root that was asked (files root or uploads root),
    without leading or trailing slash, percent-decoded. ``checksums`` maps uppercase type
    (``SHA1``, ``MD5``, ``SHA256`` ...) to the stored hex value.
    """

    path: str
    href: str
    is_dir: bool
    size: int | None = None
    etag: str | None = None
    file_id: str | None = None
    checksums: dict[str, str] = field(default_factory=dict)
    last_modified: datetime | None = None
    permissions: str | None = None
    content_type: str | None = None

    @property
    def name(self) -> str:
        """The last path segment."""
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class LoginFlow:
    """A started Login Flow v2: open ``login_url`` in a browser, then poll."""

    login_url: str
    poll_endpoint: str
    token: str = field(repr=False)
    server_url: str = ""
    allow_insecure_http: bool = False
