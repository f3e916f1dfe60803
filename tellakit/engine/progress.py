"""A tqdm bar per report, fed by the Submitter's progress events (no widget imports).

    with ReportProgressBar(submitter, report_id):
        submitter.submit(report_id)
        submitter.wait(report_id)

``tqdm.auto`` picks a notebook bar in Jupyter and a text bar in a terminal. The bar is updated
from worker threads; tqdm handles that. It closes itself when the report stops (submitted,
paused, interrupted).
"""

from __future__ import annotations

from typing import Any

from tellakit.engine.events import ProgressEvent

FINAL_STATES = frozenset({"submitted", "paused", "interrupted"})


class ReportProgressBar:
    """Show one report's bytes sent as a tqdm bar; ``close()`` (or ``with``) detaches it."""

    def __init__(self, submitter: Any, report_id: str, *, tqdm_factory: Any = None, **tqdm_kw: Any):
        if tqdm_factory is None:
            from tqdm.auto import tqdm

            tqdm_factory = tqdm
        snap = submitter.snapshot(report_id)
        self.report_id = report_id
        self.state = snap.state
        self.reason: str | None = snap.reason
        self.bar = tqdm_factory(
            total=snap.total,
            initial=snap.bytes_sent,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=snap.title[:40],
            **tqdm_kw,
        )
        self._unsubscribe = submitter.subscribe(self._on_event)

    def _on_event(self, event: ProgressEvent) -> None:
        if event.report_id != self.report_id:
            return
        if event.report_total:
            self.bar.total = event.report_total
        self.bar.n = min(event.report_bytes_sent, self.bar.total or event.report_bytes_sent)
        self.state = event.state
        if event.reason:
            self.reason = event.reason
        self.bar.set_postfix_str(event.state, refresh=False)
        self.bar.refresh()
        if event.attachment_id is None and event.state in FINAL_STATES:
            self.close()

    def close(self) -> None:
        """Stop listening and close the bar (safe to call twice)."""
        self._unsubscribe()
        self.bar.close()

    def __enter__(self) -> ReportProgressBar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
