"""Every error tellakit raises, in one tree.

Catch ``TellakitError`` for everything; catch ``RetryableError`` to decide whether trying the
same thing again later can help (a batch goes on past these and stops at ``FatalServerError``).

    TellakitError
     ├── VaultError                      the encrypted container on this machine
     │    ├── WrongPassphrase            the passphrase does not open identity.age
     │    ├── VaultCorrupted             tampered, truncated or swapped data, never returned
     │    ├── VaultLocked                the vault was locked or destroyed
     │    ├── VaultExists                create_vault on a folder that already holds one
     │    ├── VaultNotFound              open_vault on a folder that holds none
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
     └── ServerError                     anything the server (or the way to it) answered
          ├── RetryableError             trying again later can help
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
    "ConnectionLost",
    "ConnectionSettingsError",
    "FatalServerError",
    "ImportIncomplete",
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
    "ReportError",
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
    "VaultCorrupted",
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

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        lines = "; ".join(f"row {row}: {msg}" for row, msg in problems)
        super().__init__(f"The manifest has {len(problems)} bad row(s): {lines}")


# --- the server ----------------------------------------------------------------------------


class ServerError(TellakitError):
    """The server, or the network on the way to it, answered something other than success.

    ``status`` is the HTTP status when there was one; ``method`` and ``path`` say which request
    (the path never carries credentials).
    """

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
    """Trying the same request again later can succeed."""


class ConnectionLost(RetryableError):
    """The server could not be reached, or the connection dropped mid-transfer."""


class ServerUnavailable(RetryableError):
    """The server answered 5xx, or is in maintenance mode."""


class ResourceLocked(RetryableError):
    """The server answered 423 Locked."""


class RateLimited(RetryableError):
    """The server answered 429 Too Many Requests; ``retry_after`` is in seconds when given."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


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
    """400 InvalidPath: the server refuses a file or folder name; ``reason`` is the server's."""


class NotNextcloud(FatalServerError):
    """The URL answers, but not as a Nextcloud server (no valid status.php)."""


class TLSFailure(FatalServerError):
    """The server's TLS certificate could not be verified."""


class LoginFlowExpired(FatalServerError):
    """Login Flow v2 was not approved in the browser before it expired."""


class VerificationFailed(FatalServerError):
    """After upload, the server's size or checksum does not match the vault's record."""


class UnexpectedResponse(FatalServerError):
    """The server answered with a status or body the protocol does not allow here."""
