"""Accounts of the development server: passwords, login names, app passwords, quotas."""

from __future__ import annotations

import hmac
import secrets
import string
import threading
from dataclasses import dataclass, field

from tellakit.devserver.meta import MetaStore

_APP_PASSWORD_ALPHABET = string.ascii_letters + string.digits


@dataclass
class User:
    """One account. ``login`` is what people type (may be an e-mail); ``uid`` is in URLs."""

    uid: str
    password: str = field(repr=False)
    login: str
    display_name: str
    quota: int | None = None  # bytes; None = unlimited
    two_factor: bool = False  # the real password is refused for DAV/OCS, as with 2FA on


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
        user = User(uid, password, login or uid, display_name or uid, quota, two_factor)
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
