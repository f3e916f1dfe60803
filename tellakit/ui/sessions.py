"""One open vault and one engine per vault folder in a kernel.

Running the app cell again (or a second App on the same folder) must not start a second
Submitter beside the first: both would send the same outbox. After the passphrase is checked,
a new App joins the session already open for that folder, so it shows the uploads that are
running; locking from any App locks the vault for all of them.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tellakit.engine import Submitter

__all__ = ["Session", "join", "leave"]

log = logging.getLogger(__name__)


@dataclass
class Session:
    """An unlocked vault, its engine, and the Apps showing it."""

    vault: Any
    submitter: Any
    apps: weakref.WeakSet[Any] = field(default_factory=weakref.WeakSet)


_sessions: dict[Path, Session] = {}
_lock = threading.Lock()


def join(path: Path, vault: Any, app: Any, submitter_options: Mapping[str, Any]) -> Session:
    """The session for ``path``: the open one (``vault``, just opened, is closed) or a new one
    with the vault's Submitter (``Submitter.for_vault``, made with ``submitter_options``)."""
    key = path.resolve()
    with _lock:
        session = _sessions.get(key)
        if session is not None and not session.vault.locked:
            if vault is not session.vault:
                vault.close()  # the passphrase was right; keep the vault whose workers run
        else:
            session = Session(vault, Submitter.for_vault(vault, **submitter_options))
            _sessions[key] = session
        session.apps.add(app)
        return session


def leave(path: Path) -> list[Any]:
    """Close the session of ``path`` (engine, then vault); return the Apps that showed it."""
    with _lock:
        session = _sessions.pop(path.resolve(), None)
    if session is None:
        return []
    try:
        session.submitter.close()
    except Exception:
        # Locking must happen whatever the engine says on the way out.
        log.exception("The engine failed while stopping; the vault is locked anyway.")
    finally:
        session.vault.lock()
    return list(session.apps)
