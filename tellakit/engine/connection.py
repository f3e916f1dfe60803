"""The vault's stored connection as the engine reads it: for a run, for retries, for a probe.

Thread rules: no state and no lock; any thread may call these (the vault is thread-safe).
"""

from __future__ import annotations

import contextlib

from tellakit.engine.ports import ClientFactory, ReportStore
from tellakit.errors import NoConnection, TellakitError
from tellakit.vault.models import ConnectionSettings


def connection_of(vault: ReportStore) -> ConnectionSettings:
    """The connection a run uses (NoConnection when the vault has none)."""
    settings = vault.get_connection()
    if settings is None:
        raise NoConnection("This vault has no Nextcloud connection; connect first.")
    return settings


def auto_retry_setting(vault: ReportStore) -> bool:
    """The connection's "auto_retry" setting (False without a readable connection)."""
    try:
        settings = vault.get_connection()
    except TellakitError:
        return False
    return bool(settings is not None and settings.auto_retry)


def server_answers(vault: ReportStore, client_factory: ClientFactory) -> bool:
    """Does the connection's server answer status.php now? (A cheap probe: no login.)"""
    try:
        client = client_factory(connection_of(vault))
    except TellakitError:
        return False
    try:
        client.status()
    except (TellakitError, OSError):
        return False
    finally:
        with contextlib.suppress(Exception):
            client.close()
    return True
