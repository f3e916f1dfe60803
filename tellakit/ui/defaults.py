"""Where the app keeps its vault and which server it suggests, from ``tellakit lab``'s settings.

``tellakit lab`` (tellakit/lab.py) runs a development server and tells its kernels about it
through environment variables. The password stays in Python: it never goes into a widget, so
it cannot reach the browser or a saved notebook.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tellakit.labenv import ENV_LAB_HOME, ENV_PASSWORD, ENV_URL, ENV_USER

DEFAULT_ROOT_FOLDER = "Tella"


@dataclass(frozen=True)
class ServerPrefill:
    """A server to suggest in the connection form; ``password`` is never shown."""

    url: str = ""
    login: str = ""
    password: str = field(default="", repr=False)
    root_folder: str = DEFAULT_ROOT_FOLDER

    @property
    def complete(self) -> bool:
        """True when it is enough to connect without asking (what ``tellakit lab`` gives)."""
        return bool(self.url and self.login and self.password)

    def password_for(self, url: str, login: str) -> str | None:
        """The known password if the form still names this server and login, else None."""
        if (
            self.password
            and url.strip().rstrip("/") == self.url.rstrip("/")
            and login == self.login
        ):
            return self.password
        return None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServerPrefill:
        """The development server ``tellakit lab`` started, or an empty prefill."""
        env = os.environ if env is None else env
        return cls(
            url=env.get(ENV_URL, ""),
            login=env.get(ENV_USER, ""),
            password=env.get(ENV_PASSWORD, ""),
        )


def default_vault_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$TELLAKIT_LAB_HOME/vault`` under ``tellakit lab``, else ``~/tellakit/vault``."""
    env = os.environ if env is None else env
    home = env.get(ENV_LAB_HOME)
    if home:
        return Path(home).expanduser().resolve() / "vault"
    return Path.home() / "tellakit" / "vault"
