"""Every error tellakit raises, in one tree.

Catch ``TellakitError`` for everything; catch ``RetryableError`` to decide whether trying the
same thing again later can help (a batch goes on past these and stops at ``FatalServerError``).

    TellakitError
     ├── VaultError                      the encrypted container on this machine
     │    ├── WrongPassphrase            the passphrase does not open identity.age
     │    ├── VaultCorrupted             tampered, truncated or swapped data, never returned
     │    │    ├── IndexMissing          index.db is missing, empty or holds no tables
     │    │    ├── IndexForeign          index.db does not open with this vault's key
     │    │    └── IndexStale            blobs/ holds files index.db does not list
     │    ├── VaultLocked                the vault was locked or destroyed
     │    │    └── VaultDestroyed        quick delete removed the vault (maybe in another process)
     │    ├── VaultExists                create_vault on a folder that already holds one
     │    ├── VaultNotFound              open_vault on a folder that holds none
     │    ├── VaultBusy                  held by another process for a change that needs it alone
     │    ├── RekeyInterrupted           a re-key stopped half-way: open with the new passphrase
     │    ├── ImportRefused              a file name or source refused before anything is encrypted
     │    ├── ImportIncomplete           a file sent in pieces stopped before it was whole
     │    └── AgeError                   an age file that cannot be decrypted
     │         ├── AgeHeaderError        malformed or non-canonical header
     │         ├── AgeNoMatch            no identity or passphrase opens any stanza
     │         ├── AgeHMACError          the header MAC does not verify
     │         └── AgePayloadError       a payload chunk failed authentication or framing
     ├── ReportError                     reports and their states
     │    ├── MissingTitle               a report cannot be saved without a title
     │    ├── InvalidTransition          a state change the model forbids (names both states)
     │    ├── ReportNotFound             no report with that id
     │    └── AttachmentNotFound         no attachment with that id
     ├── ConnectionSettingsError         a server URL or connection setting we refuse locally
     │    ├── InsecureURL                plain http to a non-loopback host without opt-in
     │    └── NoConnection               the vault has no Nextcloud connection yet
     ├── ManifestError                   batch manifests with bad rows (lists every row)
     ├── ReportManifestError             a report folder's manifest.json(.age) that cannot be used
     ├── IdentityFileError               the organization's identity file cannot be read
     └── ServerError                     anything the server (or the way to it) answered
          ├── RetryableError             trying again later can help (retry_after seconds)
          │    ├── ConnectionLost        unreachable host, reset, timeout, cut mid-transfer
          │    ├── ServerUnavailable     5xx, including maintenance mode (503)
          │    ├── ResourceLocked        423: the file is locked on the server
          │    ├── RateLimited           429: too many requests (retry_after seconds)
          │    └── UploadExpired         the server dropped an unfinished chunked upload
          └── FatalServerError           trying again unchanged cannot help
               ├── AuthenticationFailed  401: wrong login or password, or revoked app password
               ├── TwoFactorRequired     the account needs an app password or Login Flow
               ├── QuotaExceeded         507: the user's storage is full
               ├── NameRejected          400 InvalidPath: the server refuses a file or folder name
               ├── NotNextcloud          the URL answers, but not as a Nextcloud server
               ├── TLSFailure            the server's certificate could not be verified
               ├── LoginFlowExpired      Login Flow v2 was not approved in time
               ├── VerificationFailed    the server's copy does not match the vault's SHA-256/size
               ├── BulkUploadUnsupported the server has no bulk upload endpoint (send files singly)
               └── UnexpectedResponse    a status or body the protocol does not allow here

Messages name the problem and what to do; they never carry passwords, app passwords or tokens.
"""

from __future__ import annotations

__all__ = [
    "AgeError",
    "AgeHMACError",
    "AgeHeaderError",
    "AgeNoMatch",
    "AgePayloadError",
    "AttachmentNotFound",
    "AuthenticationFailed",
    "BulkUploadUnsupported",
    "ConnectionLost",
    "ConnectionSettingsError",
    "FatalServerError",
    "IdentityFileError",
    "ImportIncomplete",
    "ImportRefused",
    "IndexForeign",
    "IndexMissing",
    "IndexStale",
    "InsecureURL",
    "InvalidTransition",
    "LoginFlowExpired",
    "ManifestError",
    "MissingTitle",
    "NameRejected",
    "NoConnection",
    "NotNextcloud",
    "QuotaExceeded",
    "RateLimited",
    "RekeyInterrupted",
    "ReportError",
    "ReportManifestError",
    "ReportNotFound",
    "ResourceLocked",
    "RetryableError",
    "ServerError",
    "ServerUnavailable",
    "TLSFailure",
    "TellakitError",
    "TwoFactorRequired",
    "UnexpectedResponse",
    "UploadExpired",
    "VaultBusy",
    "VaultCorrupted",
    "VaultDestroyed",
    "VaultError",
    "VaultExists",
    "VaultLocked",
    "VaultNotFound",
    "VerificationFailed",
    "WrongPassphrase",
]


class TellakitError(Exception):
    """Base of every error tellakit raises."""


# --- the vault ---------------------------------------------------------------------------


class VaultError(TellakitError):
    """A problem with the encrypted container on this machine."""


class WrongPassphrase(VaultError):
    """The passphrase does not open the vault's identity; nothing was changed."""


class VaultCorrupted(VaultError):
    """Vault data failed authentication: tampered, truncated or swapped."""


class VaultLocked(VaultError):
    """The vault is locked (or was destroyed); open it again with the passphrase."""


class IndexMissing(VaultCorrupted):
    """index.db is missing, empty, or holds no tellakit tables; it is never created on open."""


class IndexForeign(VaultCorrupted):
    """index.db does not open with this vault's key: another vault's, damaged, or not SQLCipher."""


class IndexStale(VaultCorrupted):
    """blobs/ holds complete files index.db does not list (an index restored from an older
    backup, or files copied in); nothing was deleted. ``orphans`` lists them."""

    orphans: list[str]

    def __init__(self, message: str, orphans: list[str] | None = None) -> None:
        super().__init__(message)
        self.orphans = orphans or []


class VaultDestroyed(VaultLocked):
    """The vault was destroyed (quick delete), in this process or another one."""


class VaultBusy(VaultError):
    """Another process (or import) holds the vault for a change that needs it alone."""


class RekeyInterrupted(VaultError):
    """A re-key stopped half-way; opening with the new passphrase finishes it."""


class ImportRefused(VaultError):
    """A file name or source is refused before anything is encrypted (nothing was imported)."""


class VaultExists(VaultError):
    """A vault already exists at that path."""


class VaultNotFound(VaultError):
    """No vault at that path."""


class ImportIncomplete(VaultError):
    """A file arriving in pieces (from the browser) stopped before it was whole: cancelled,
    cut, or abandoned; nothing of it was kept in the vault."""


class AgeError(VaultError):
    """An age file that cannot be decrypted."""


class AgeHeaderError(AgeError):
    """The age header is malformed, non-canonical or uses a forbidden combination."""


class AgeNoMatch(AgeError):
    """No identity or passphrase given opens any recipient stanza of the file."""


class AgeHMACError(AgeError):
    """The age header MAC does not verify: the header was altered."""


class AgePayloadError(AgeError):
    """An age payload chunk failed authentication, or the payload is truncated or malformed."""


# --- reports -------------------------------------------------------------------------------


class ReportError(TellakitError):
    """A problem with a report or its state."""


class MissingTitle(ReportError):
    """A report needs a title before it can be saved."""


class InvalidTransition(ReportError):
    """The report model forbids moving from one state to another."""

    current: str
    requested: str

    def __init__(self, current: str, requested: str, why: str = "") -> None:
        self.current = current
        self.requested = requested
        message = f"A report cannot go from {current!r} to {requested!r}"
        super().__init__(f"{message}: {why}" if why else f"{message}.")


class ReportNotFound(ReportError):
    """No report with that id in this vault."""


class AttachmentNotFound(ReportError):
    """No attachment with that id in this vault."""


# --- local connection settings -------------------------------------------------------------


class ConnectionSettingsError(TellakitError):
    """A connection setting refused before anything is sent."""


class InsecureURL(ConnectionSettingsError):
    """Plain http to a host that is not loopback, without the caller opting in."""


class NoConnection(ConnectionSettingsError):
    """The vault has no Nextcloud connection; add one first."""


class ManifestError(TellakitError):
    """A batch manifest has bad rows; ``problems`` lists (row number, message) for each."""

    problems: list[tuple[int, str]]

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        lines = "; ".join(f"row {row}: {msg}" for row, msg in problems)
        super().__init__(f"The manifest has {len(problems)} bad row(s): {lines}")


class ReportManifestError(TellakitError):
    """A report folder's manifest (``manifest.json`` or ``manifest.json.age``) is malformed,
    of an unknown format or version, or contradicts itself; nothing in it is trusted."""


class IdentityFileError(TellakitError):
    """The organization's identity file (``tellakit org keygen``) is missing a key, damaged,
    or not opened by the passphrase given."""


# --- the server ----------------------------------------------------------------------------


class ServerError(TellakitError):
    """The server, or the network on the way to it, answered something other than success.

    ``status`` is the HTTP status when there was one; ``method`` and ``path`` say which request
    (the path never carries credentials).
    """

    status: int | None
    method: str | None
    path: str | None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.method = method
        self.path = path


class RetryableError(ServerError):
    """Trying the same request again later can succeed.

    ``retry_after`` is how many seconds the server asked the client to wait (its Retry-After
    header), or None when it did not say.
    """

    retry_after: float | None

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message, status=status, method=method, path=path)
        self.retry_after = retry_after


class ConnectionLost(RetryableError):
    """The server could not be reached, or the connection dropped mid-transfer."""


class ServerUnavailable(RetryableError):
    """The server answered 5xx, or is in maintenance mode (``retry_after`` when it said)."""


class ResourceLocked(RetryableError):
    """The server answered 423 Locked."""


class RateLimited(RetryableError):
    """The server answered 429 Too Many Requests; ``retry_after`` is in seconds when given."""


class UploadExpired(RetryableError):
    """The server no longer holds the unfinished chunked upload; the file restarts cleanly."""


class FatalServerError(ServerError):
    """Trying again without changing something (password, quota, name) cannot help."""


class AuthenticationFailed(FatalServerError):
    """401: the server refused the login name and password (or the app password was revoked)."""


class TwoFactorRequired(FatalServerError):
    """The account uses two-factor authentication: use Login Flow or an app password."""


class QuotaExceeded(FatalServerError):
    """507: the user's storage on the server is full."""


class NameRejected(FatalServerError):
    """400 InvalidPath: the server refuses a file or folder name; ``reason`` is the server's.

    ``reason`` is None when the refusal came from tellakit's own check of the server's name
    rules, before anything was sent.
    """

    reason: str | None

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message, status=status, method=method, path=path)
        self.reason = reason


class NotNextcloud(FatalServerError):
    """The URL answers, but not as a Nextcloud server (no valid status.php)."""


class TLSFailure(FatalServerError):
    """The server's TLS certificate could not be verified."""


class LoginFlowExpired(FatalServerError):
    """Login Flow v2 was not approved in the browser before it expired."""


class VerificationFailed(FatalServerError):
    """After upload, the server's size or checksum does not match the vault's record."""


class BulkUploadUnsupported(FatalServerError):
    """The server answered a bulk upload as a server without that endpoint (404, 405, 501)."""


class UnexpectedResponse(FatalServerError):
    """The server answered with a status or body the protocol does not allow here."""
