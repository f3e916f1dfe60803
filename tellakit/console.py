"""Progress bars for terminals and notebooks (tqdm), fed by the engine's events.

The engine holds no UI code; this module is the text-and-tqdm face of it that ``batch`` and
the CLI use, and that a notebook user may use directly::

    with ReportProgressBar(submitter, report_id):
        submitter.submit(report_id)
        submitter.wait(report_id)

``tqdm.auto`` picks a notebook bar in Jupyter and a text bar in a terminal; bars are updated
from worker threads, which tqdm handles.
"""

from __future__ import annotations

from typing import Any, Protocol

from tellakit.engine.events import Listener, ProgressEvent, ReportEvent, ReportProgress
from tellakit.reports import SETTLED, STOPPED

__all__ = ["ReportProgressBar", "progress_bar"]


class _Source(Protocol):
    """What a bar needs of a Submitter."""

    def snapshot(self, report_id: str) -> ReportProgress: ...

    def subscribe(self, callback: Listener) -> Any: ...


def progress_bar(total: int, unit: str, desc: str, *, enabled: bool = True) -> Any:
    """A tqdm bar of ``total`` ``unit``s ("B" scales to KiB/MiB); a silent one when disabled."""
    from tqdm.auto import tqdm

    scale = unit == "B"
    return tqdm(
        total=total,
        unit=unit,
        unit_scale=scale,
        unit_divisor=1024 if scale else 1000,
        desc=desc,
        disable=not enabled,
    )


class ReportProgressBar:
    """Show one report's bytes sent as a tqdm bar; it closes itself when the report stops
    (submitted, paused, interrupted), and ``close()`` (or ``with``) detaches it earlier."""

    def __init__(
        self, submitter: _Source, report_id: str, *, tqdm_factory: Any = None, **tqdm_kw: Any
    ) -> None:
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
        if isinstance(event, ReportEvent) and event.reason:
            self.reason = event.reason
        self.bar.set_postfix_str(_postfix(event), refresh=False)
        self.bar.refresh()
        if isinstance(event, ReportEvent) and event.state in SETTLED:
            self.close()

    def close(self) -> None:
        """Stop listening and close the bar (safe to call twice)."""
        self._unsubscribe()
        self.bar.close()

    def __enter__(self) -> ReportProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _postfix(event: ProgressEvent) -> str:
    """The state, and what the bar's bytes mean when they are not all confirmed: the bytes on
    their way (lost if the connection drops), or from where a stopped report resumes."""
    state = event.state.value
    if isinstance(event, ReportEvent) and event.state in STOPPED:
        return f"{state}, resumes from {_mib(event.report_bytes_confirmed)}"
    flying = event.report_bytes_sent - event.report_bytes_confirmed
    if flying > 0:
        return f"{state}, {_mib(event.report_bytes_confirmed)} confirmed"
    return state


def _mib(nbytes: int) -> str:
    return f"{nbytes / 2**20:.1f} MiB"
