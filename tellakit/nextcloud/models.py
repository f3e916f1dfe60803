"""Plain data the protocol layer hands out (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum


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


class DigestKind(str, Enum):
    """Where a server-side SHA-256 came from (each is computed from bytes, never a claim)."""

    #: the ``X-Hash-SHA256`` answer of the PUT or of the final MOVE: the server hashed the
    #: bytes as it wrote them (File::put)
    UPLOAD_ANSWER = "upload_answer"
    #: the ``OC-Checksum`` answer of ``PATCH`` with ``X-Recalculate-Hash``: the server read
    #: the stored file back and hashed it (ChecksumUpdatePlugin, Nextcloud 24+)
    RECALCULATED = "recalculated"
    #: tellakit downloaded the stored file and hashed it itself (doubles the bytes moved)
    DOWNLOAD = "download"


@dataclass(frozen=True)
class ServerDigest:
    """A SHA-256 of the file as the server holds it: the only thing that counts as evidence
    that the server stored the vault's bytes.

    Never built from ``oc:checksums`` (``DavEntry.checksums``) or from anything a client sent
    in ``OC-Checksum``: Nextcloud stores those verbatim and never checks them.
    """

    kind: DigestKind
    sha256: str  # lowercase hex
    size: int | None = None  # bytes hashed, when known (a download)

    def matches(self, sha256_hex: str) -> bool:
        """True when this digest equals ``sha256_hex`` (case-insensitive)."""
        return self.sha256 == sha256_hex.strip().lower()


@dataclass(frozen=True)
class PutResult:
    """What the server answered to a PUT or to the final MOVE of a chunked upload.

    ``hashes`` holds lowercase algorithm names -> hex digests from ``X-Hash-*`` headers
    (e.g. ``{"sha256": "ab12..."}``): computed by the server from the bytes it wrote, so
    server evidence (``server_digest``); empty when the server does not offer them (Nextcloud
    before 19, or a chunking v2 MOVE on an object store).
    """

    status: int
    etag: str | None
    file_id: str | None
    hashes: dict[str, str] = field(default_factory=dict)
    mtime_accepted: bool = False
    created: bool = True  # False when an existing file was replaced (204)

    @property
    def server_digest(self) -> ServerDigest | None:
        """The server's SHA-256 of what it wrote, from ``X-Hash-SHA256``; None without one."""
        sha = self.hashes.get("sha256")
        return ServerDigest(DigestKind.UPLOAD_ANSWER, sha.lower()) if sha else None


@dataclass(frozen=True)
class DavEntry:
    """One ``d:response`` of a PROPFIND.

    ``path`` is relative to the DAV root that was asked (files root or uploads root),
    without leading or trailing slash, percent-decoded. ``checksums`` maps uppercase type
    (``SHA1``, ``MD5``, ``SHA256`` ...) to the stored hex value: ``oc:checksums``, which holds
    whatever a client last sent in ``OC-Checksum`` (or an earlier PATCH answer), stored
    verbatim and never checked by Nextcloud: a claim, never evidence of the content.
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
    #: the server handed out http:// URLs although it was reached over https (a TLS proxy
    #: without ``overwriteprotocol``); the https form of the same URLs is used instead
    upgraded_to_https: bool = False
