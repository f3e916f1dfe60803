"""Writing a report's state to the vault, and telling subscribers about it.

Every state the engine writes goes through :meth:`StateRecorder.record`: it moves the report
to the new status unless it is there already or the report model forbids the move (a race with
a worker that finished first: a report submitted while it was being paused stays submitted),
then publishes a :class:`ReportEvent`. Which party may write when a run stops is decided
before, by ``ReportRun.claim_end``; this module only writes.

Thread rules: no lock of its own. The vault is thread-safe, and the event bus has its own lock;
any thread may record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from tellakit.engine.events import EventBus, ReportEvent, SettledEvent
from tellakit.engine.ports import ReportStore
from tellakit.engine.retry import Verdict
from tellakit.engine.scheduler import RetryOutlook
from tellakit.errors import InvalidTransition
from tellakit.reports import Report, Status

log = logging.getLogger(__name__)


class StateRecorder:
    """Writes report states to ``vault`` and publishes them on ``bus``."""

    def __init__(
        self,
        vault: ReportStore,
        bus: EventBus,
        outlook: Callable[[str], RetryOutlook | None] = lambda report_id: None,
    ) -> None:
        self.vault = vault
        self.bus = bus
        self.outlook = outlook

    def record(
        self,
        report_id: str,
        status: Status,
        *,
        reason: str | None = None,
        retryable: bool | None = None,
        publish: bool = True,
    ) -> Report | None:
        """Move the report to ``status`` (and publish it); None when nothing changed.

        ``publish=False`` when the caller publishes the state it ends in itself. Raises
        ReportNotFound (deleted meanwhile) and the vault's errors.
        """
        try:
            current = self.vault.get_report(report_id)
            if current.status is status:
                return None
            report = self.vault.set_status(report_id, status, reason=reason, retryable=retryable)
        except InvalidTransition as exc:
            log.info("report state not changed: %s", exc)
            return None
        if publish:
            self.publish(report)
        return report

    def publish(self, report: Report) -> None:
        """Tell subscribers the report's recorded state (always delivered)."""
        self.bus.publish(ReportEvent(**_said(report), retry=self.outlook(report.id)), force=True)

    def publish_settled(self, report: Report, failure: Verdict | None = None) -> None:
        """Tell subscribers the report reached its real end for now (see SettledEvent)."""
        stops_batch = failure is not None and failure.stops_batch
        self.bus.publish(SettledEvent(**_said(report), stops_batch=stops_batch), force=True)


def _said(report: Report) -> dict[str, Any]:
    """What every report-level event says of the report's record."""
    return {
        "report_id": report.id,
        "state": report.status,
        "report_bytes_sent": report.bytes_sent,
        "report_total": report.total_bytes,
        "title": report.title,
        "reason": report.reason,
        "retryable": report.retryable,
    }
