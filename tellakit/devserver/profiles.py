"""Profiles: which kind of real Nextcloud server the development server behaves like.

``DevServer(profile="nextcloud-object-store")`` or ``tellakit devserver --profile ...``.
Each profile changes only the behaviours listed here; everything else is the default's.
Sources are files of nextcloud/server (read December 2026; versions from the pull requests).

======================== ==================================================================
profile                  what it emulates (Nextcloud source of each behaviour)
======================== ==================================================================
``nextcloud`` (default)  Nextcloud 30 on local disk. ``X-Hash`` (exactly ``md5``, ``sha1``,
                         ``sha256`` or ``all``) answered on PUT and on a chunked MOVE, which
                         is assembled through ``File::put`` (Connector/Sabre/File.php), never
                         on HEAD/GET; ``OC-Checksum`` stored verbatim as the client sent it;
                         ``PATCH`` with ``X-Recalculate-Hash`` answers the server's hash in
                         ``OC-Checksum`` (Connector/Sabre/ChecksumUpdatePlugin.php, 24+).
                         Stricter than a real local-disk server in one way: a MKCOL with
                         ``Destination`` makes the upload follow chunking v2's rules (numeric
                         chunk names, 5 MiB minimum), which real servers check only on an
                         object store; re-sent chunks answer as v2 does (201), v1 ones 204
                         (Upload/ChunkingV2Plugin.php beforePut, Sabre CorePlugin httpPut).
``nextcloud-object-store`` Nextcloud 30 with S3 primary storage and Redis: a v2 MOVE is
                         completed by the object store (ChunkingV2Plugin.php beforeMove): no
                         ``X-Hash`` answer, no stored checksum, ``OC-Total-Length`` not
                         compared; a chunk PUT whose upload metadata left the cache answers
                         412 (checkPrerequisites; ``DevServer.drop_upload_metadata``), the
                         MOVE then falls back to v1 and fails (400, inferred).
``nextcloud-old``        Nextcloud 18: no ``X-Hash`` at all (File.php hashes since 19), no
                         ``PATCH`` handler (Sabre answers 501), no chunking v2 (MKCOL's
                         ``Destination`` ignored), no FilenameValidator capabilities (30+).
``behind-proxy``         Nextcloud 30 behind a TLS-terminating proxy without
                         ``overwriteprotocol``: Login Flow v2 hands out ``http://`` poll and
                         login URLs and an ``http://`` server in the credentials, even when
                         reached over https (core/Controller/ClientFlowLoginV2Controller.php:
                         linkToRouteAbsolute, getServerProtocol).
``mysql-utf8``           Nextcloud 30 on MySQL without utf8mb4: names with 4-byte UTF-8
                         (emoji) refused with 400 ``InvalidPath`` "Filename contains at least
                         one invalid character" (lib/private/Files/FilenameValidator.php,
                         supports4ByteText; lib/private/Files/View.php verifyPath).
======================== ==================================================================

Two-factor accounts (``add_user(..., two_factor=True)``) behave alike in every profile:
WebDAV answers the main password with 401 ``PasswordLoginForbidden`` and the hint "password
login forbidden" (apps/dav/lib/Connector/Sabre/Auth.php; lib/private/User/Session.php
logClientIn), OCS with a plain 401, app passwords work, and the Login Flow page asks for a
TOTP code after the password (``DevServer.totp_code``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    """The behaviours that differ between kinds of real servers."""

    name: str
    version: str = "30.0.1"  # status.php versionstring and capabilities version
    x_hash: bool = True  # X-Hash answered on PUT and on a v1-assembled MOVE
    recalculate_hash: bool = True  # PATCH X-Recalculate-Hash (ChecksumUpdatePlugin)
    chunking_v2: bool = True  # MKCOL with Destination starts a v2 upload
    object_store: bool = False  # v2 uploads completed by the object store
    login_flow_scheme: str | None = None  # scheme of Login Flow URLs ("http" behind a proxy)
    utf8mb4: bool = True  # False: names with 4-byte UTF-8 are refused

    @property
    def major(self) -> int:
        """The major version (18, 30, ...)."""
        return int(self.version.split(".", 1)[0])


NEXTCLOUD = Profile("nextcloud")
PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        NEXTCLOUD,
        Profile("nextcloud-object-store", object_store=True),
        Profile(
            "nextcloud-old",
            version="18.0.14",
            x_hash=False,
            recalculate_hash=False,
            chunking_v2=False,
        ),
        Profile("behind-proxy", login_flow_scheme="http"),
        Profile("mysql-utf8", utf8mb4=False),
    )
}


def get_profile(name: str | Profile) -> Profile:
    """The profile called ``name`` (a Profile is returned as is); ValueError names the choices."""
    if isinstance(name, Profile):
        return name
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"unknown devserver profile {name!r}; choose one of {', '.join(PROFILES)}"
        ) from None
