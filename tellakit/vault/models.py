"""Plain data the vault hands out: files and the Nextcloud connection settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class VaultFile:
    """A file stored in the vault (an age blob plus its index row)."""

    id: str
    name: str
    mime: str
    size: int
    sha256: str  # hex SHA-256 of the plaintext, computed while importing
    imported_at: datetime


@dataclass
class ConnectionSettings:
    """The single Nextcloud connection; kept only inside the encrypted index."""

    server_url: str
    login: str  # login name as typed (may be an e-mail)
    user_id: str  # from cloud/user, never the display name
    password: str = field(repr=False)  # an app password when is_app_password
    is_app_password: bool = False
    root_folder: str = "Tella"
    allow_insecure_http: bool = False
    upload_manifest: bool = True
    auto_retry: bool = False
    # --- sealed submissions (issue 13; docs/server-layout.md) ---
    #: age recipients (``age1...``, ``ssh-ed25519 ...``) reports are encrypted to; empty: the
    #: readable layout, as in Tella. A report's recipients are fixed when it is queued.
    encrypt_to: tuple[str, ...] = ()
    #: with ``encrypt_to``: the folder keeps Tella's name (the title); files stay sealed
    readable_names: bool = False
    # --- verification (issue 14; docs/security.md) ---
    #: what to do with a file the server offers no SHA-256 for (no ``X-Hash`` answer, no
    #: ``PATCH X-Recalculate-Hash``): ``"download"`` it back and hash it (the default; every
    #: byte crosses the link twice), or ``"size_only"``: recorded as "size checked, content
    #: not verified"
    without_digest: str = "download"


#: ``ConnectionSettings.without_digest`` values: download the file back and hash it ...
WITHOUT_DIGEST_DOWNLOAD = "download"
#: ... or compare its size only (its content is then not verified).
WITHOUT_DIGEST_SIZE_ONLY = "size_only"
WITHOUT_DIGEST_CHOICES = (WITHOUT_DIGEST_DOWNLOAD, WITHOUT_DIGEST_SIZE_ONLY)
