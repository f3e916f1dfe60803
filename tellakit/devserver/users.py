"""Accounts of the development server: passwords, login names, app passwords, quotas, TOTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string
import struct
import threading
import time
from dataclasses import dataclass, field

from tellakit.devserver.meta import MetaStore

_APP_PASSWORD_ALPHABET = string.ascii_letters + string.digits
TOTP_STEP = 30  # seconds per code (RFC 6238, as Nextcloud's twofactor_totp app)


def totp(secret: str, at: float | None = None) -> str:
    """The 6-digit RFC 6238 code (HMAC-SHA1, 30 s steps) of a base32 ``secret`` at ``at``."""
    key = base64.b32decode(secret)
    counter = int((time.time() if at is None else at) // TOTP_STEP)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    code = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{code % 1_000_000:06d}"


@dataclass
class User:
    """One account. ``login`` is what people type (may be an e-mail); ``uid`` is in URLs."""

    uid: str
    password: str = field(repr=False)
    login: str
    display_name: str
    quota: int | None = None  # bytes; None = unlimited
    two_factor: bool = False  # the real password is refused for DAV/OCS, as with 2FA on
    totp_secret: str | None = field(default=None, repr=False)  # base32, set with two_factor


@dataclass(frozen=True)
class Identity:
    """Who a request authenticated as."""

    uid: str
    login: str
    app_password: str | None = field(default=None, repr=False)

    @property
    def is_app_password(self) -> bool:
        """True when an app password (not the real password) was used."""
        return self.app_password is not None


class UserStore:
    """The accounts, thread-safe."""

    def __init__(self, meta: MetaStore) -> None:
        self._meta = meta
        self._lock = threading.Lock()
        self._users: dict[str, User] = {}

    def add(
        self,
        uid: str,
        password: str,
        *,
        login: str | None = None,
        display_name: str | None = None,
        quota: int | None = None,
        two_factor: bool = False,
    ) -> User:
        """Create (or replace) an account."""
        secret = base64.b32encode(secrets.token_bytes(20)).decode() if two_factor else None
        user = User(uid, password, login or uid, display_name or uid, quota, two_factor, secret)
        with self._lock:
            self._users[uid] = user
        return user

    def get(self, uid: str) -> User | None:
        """The account with this user id."""
        with self._lock:
            return self._users.get(uid)

    def by_login(self, login: str) -> User | None:
        """Nextcloud accepts the login name (e.g. an e-mail) or the user id."""
        with self._lock:
            for user in self._users.values():
                if user.login.lower() == login.lower():
                    return user
            return self._users.get(login)

    def check_password(self, login: str, password: str) -> User | None:
        """The account when login + real password match (2FA ignored: used by the login page)."""
        user = self.by_login(login)
        if user and hmac.compare_digest(user.password.encode(), password.encode()):
            return user
        return None

    def authenticate(self, login: str, password: str) -> Identity | None:
        """Basic-auth check: real password (unless 2FA) or an app password of that account."""
        user = self.by_login(login)
        if user is None:
            return None
        owner = self._meta.app_password_owner(password)
        if owner is not None and owner[0] == user.uid:
            return Identity(user.uid, login, password)
        if not user.two_factor and hmac.compare_digest(user.password.encode(), password.encode()):
            return Identity(user.uid, login)
        return None

    def password_login_forbidden(self, login: str, password: str) -> bool:
        """True when ``login`` names a two-factor account and ``password`` is not one of its
        app passwords: Nextcloud refuses such a login before even checking the password
        (Session::logClientIn throws PasswordLoginForbiddenException)."""
        user = self.by_login(login)
        if user is None or not user.two_factor:
            return False
        owner = self._meta.app_password_owner(password)
        return owner is None or owner[0] != user.uid

    def check_totp(self, uid: str, code: str) -> bool:
        """True when ``code`` is the account's TOTP code now (one step of clock drift allowed)."""
        user = self.get(uid)
        if user is None or user.totp_secret is None:
            return False
        now = time.time()
        return any(
            hmac.compare_digest(totp(user.totp_secret, now + drift * TOTP_STEP), code.strip())
            for drift in (-1, 0, 1)
        )

    def create_app_password(self, uid: str, *, login: str | None = None, name: str = "") -> str:
        """A new 72-character app password for ``uid`` (Nextcloud's length)."""
        user = self.get(uid)
        if user is None:
            raise KeyError(uid)
        secret = "".join(secrets.choice(_APP_PASSWORD_ALPHABET) for _ in range(72))
        self._meta.add_app_password(secret, uid, login or user.login, name)
        return secret

    def revoke_app_password(self, secret: str) -> None:
        """The app password stops working."""
        self._meta.revoke_app_password(secret)
