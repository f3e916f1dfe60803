"""What a screen may use of the app: the open vault, its engine, and navigation.

Screens talk to an ``AppContext`` instead of the ``App`` widget itself, so a screen can be built
and tested on its own (tests pass a small object with a vault, a submitter and a record of the
navigation asked for). ``App`` is the one real implementation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tellakit.engine import Submitter
    from tellakit.vault import Vault

__all__ = ["AppContext", "Navigation"]


class Navigation(Protocol):
    """The moves a screen may ask for; the app checks with the current screen before leaving."""

    def show_home(self) -> None:
        """Home: the connection card."""

    def show_connection_form(self) -> None:
        """Add a Nextcloud server."""

    def show_reports(self, tab: str = "Drafts") -> None:
        """The reports view on ``tab`` (Drafts, Outbox or Submitted)."""

    def new_report(self) -> None:
        """An empty report form."""

    def open_report(self, report_id: str) -> None:
        """A report where it belongs: draft in the form, outbox in the upload view, submitted
        read-only."""

    def show_upload(self, report_id: str) -> None:
        """The upload view of a report."""


class AppContext(Navigation, Protocol):
    """A screen's whole view of the app."""

    #: The open vault (screens are only shown while it is open, except the unlock screen).
    vault: Vault
    #: The vault's engine: submit, pause, resume, delete, progress events.
    submitter: Submitter
    #: How many times a second views apply progress from worker threads.
    update_rate: float

    def unlocked(self, vault: Vault) -> None:
        """The unlock screen opened (or created) ``vault``."""

    def connected(self) -> None:
        """The connection form saved a connection in the vault."""

    def quick_delete(self) -> None:
        """Stop every upload, destroy the vault, and show that it is gone."""
