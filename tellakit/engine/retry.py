"""Which errors a retry can help with, what to tell the user, and how long to wait.

Retryable (the report goes to the outbox as INTERRUPTED, retryable=True): connection lost,
5xx, 423, 429, an expired chunked upload. Fatal (INTERRUPTED, retryable=False): 401, 2FA, 507,
a refused name, a failed verification, an unexpected answer, and the vault's own errors, each
named for what it is (locked, a copy that failed authentication, unreadable). When to try
again is the retry scheduler's decision (scheduler.py); ``Backoff`` is its curve.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tellakit.errors import (
    AgeError,
    AuthenticationFailed,
    ConnectionLost,
    FatalServerError,
    QuotaExceeded,
    RateLimited,
    ResourceLocked,
    RetryableError,
    ServerUnavailable,
    TellakitError,
    TwoFactorRequired,
    UploadExpired,
    VaultCorrupted,
    VaultDestroyed,
    VaultError,
    VaultLocked,
)


@dataclass(frozen=True)
class Verdict:
    """What an error means for the report: the reason shown, and whether a retry can help."""

    reason: str
    retryable: bool
    stops_batch: bool = False  # auth/quota: no point sending the next report either
    retry_after: float | None = None
    #: A few words for "connection lost 3 times in the last minute" (retryable errors).
    label: str = "error"
    #: The server could not be reached or did not serve: while it stays so, retrying waits
    #: for it to answer a cheap probe (status.php) instead of spending attempts.
    unreachable: bool = False


def classify(error: BaseException) -> Verdict:
    """Turn an exception raised while submitting into a user-facing verdict.

    The reason names the problem and what to do; it never carries credentials (the error
    messages of the protocol layer never do, and unknown errors are described by type only).
    """
    msg = str(error) or type(error).__name__
    after = error.retry_after if isinstance(error, RetryableError) else None
    if isinstance(error, RateLimited):
        return Verdict(
            f"The server asks to slow down (429): {msg}", True, False, after, "slowed down"
        )
    if isinstance(error, ConnectionLost):
        return Verdict(f"Connection lost: {msg}", True, label="connection lost", unreachable=True)
    if isinstance(error, ServerUnavailable):
        return Verdict(
            f"The server is unavailable: {msg}", True, False, after, "server unavailable", True
        )
    if isinstance(error, ResourceLocked):
        return Verdict(f"A file is locked on the server (423): {msg}", True, label="file locked")
    if isinstance(error, UploadExpired):
        return Verdict(
            f"The server dropped the unfinished upload: {msg}", True, label="upload expired"
        )
    if isinstance(error, RetryableError):
        return Verdict(msg, True, label="server error")
    if isinstance(error, (AuthenticationFailed, TwoFactorRequired)):
        return Verdict(f"The server refused the login: {msg}", False, stops_batch=True)
    if isinstance(error, QuotaExceeded):
        return Verdict(f"The storage on the server is full: {msg}", False, stops_batch=True)
    if isinstance(error, FatalServerError):
        return Verdict(msg, False)
    if isinstance(error, VaultDestroyed):
        return Verdict(f"The vault was deleted (quick delete) during the upload: {msg}", False)
    if isinstance(error, VaultLocked):
        return Verdict(
            f"The vault was locked during the upload; unlock it and resume: {msg}", False
        )
    if isinstance(error, (VaultCorrupted, AgeError)):
        return Verdict(f"The vault copy of a file failed authentication: {msg}", False)
    if isinstance(error, VaultError):
        return Verdict(f"The vault could not be read: {msg}", False)
    if isinstance(error, TellakitError):
        return Verdict(msg, False)
    if isinstance(error, OSError):
        # Low-level socket errors that slipped past the protocol layer: treat as network.
        return Verdict(
            f"Connection lost: {type(error).__name__}",
            True,
            label="connection lost",
            unreachable=True,
        )
    return Verdict(
        f"Unexpected error in tellakit ({type(error).__name__}); please report it", False
    )


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: base * factor**attempt, capped (60 s), at least the
    server's Retry-After (which may be longer than the cap)."""

    base: float = 2.0
    factor: float = 2.0
    cap: float = 60.0
    jitter: float = 0.1  # +-10 %, so many clients do not hammer the server in step

    def delay(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before retry number ``attempt`` (0 for the first retry)."""
        raw = min(self.cap, self.base * self.factor ** max(0, attempt))
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        wait = min(self.cap, raw * (1 + spread))  # the cap holds after the jitter too
        if retry_after is not None and retry_after > wait:
            wait = min(max(retry_after, 0.0), max(self.cap, retry_after))
        return max(0.0, wait)
