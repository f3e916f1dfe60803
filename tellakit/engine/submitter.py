"""The Submitter: background submission of a vault's reports, one object per open vault.

Calls return at once; worker threads do the work and go on when the caller's cell or view is
gone. Every step is recorded in the vault as it completes (see plan.py), so the threads can be
daemons: if the process dies, a report found "uploading" with no worker when the vault is next
opened is shown as interrupted ("tellakit stopped during upload") and resumes where it stopped.

State changes a caller makes:
    submit / resume   draft, queued, paused, interrupted -> uploading (a worker picks it up)
    submit_later      draft -> queued
    submit_outbox     every queued, paused and interrupted report, oldest first
    pause             uploading/queued/interrupted -> paused (a running upload stops within ~1 s)
    delete            stop, then delete the local report (the server keeps what it got)

The Submitter is a facade over named parts, each in its own module:

    workqueue.WorkQueue               the queue, the worker threads, wait, active
    run.ReportRun                     one run of one report; the one "who records the end" claim
    runner.ReportRunner               runs a report on a worker, records how the run ended
    recorder.StateRecorder            writes report states and publishes them
    scheduler.RetryScheduler          when a stopped report is tried again; timers
    monitor.CrossProcessMonitor       pauses, deletes and resumes made by other processes
    registry                          the open Submitters of this process, closed at exit
    tracker.ProgressTracker           bytes in flight, speed, snapshot
    link.LinkBook                     what was learned of the link to each server

Thread rules: the facade has no lock and no state of its own besides its parts; each part
states its own rules at the top of its module. A caller's thread runs submit/pause/delete/close
through to the vault; worker threads run reports; one monitor thread watches other processes;
timer threads start retries.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any, Literal

from tellakit.engine import registry
from tellakit.engine.chunking import Tuning
from tellakit.engine.connection import auto_retry_setting, server_answers
from tellakit.engine.control import StopReason, Timing
from tellakit.engine.events import EventBus, Listener, ReportProgress
from tellakit.engine.link import LinkBook
from tellakit.engine.monitor import CrossProcessMonitor, recover_orphans
from tellakit.engine.ports import (
    ChunkedUploadFactory,
    ClientFactory,
    ReportStore,
    client_for,
    default_chunked_upload,
)
from tellakit.engine.recorder import StateRecorder
from tellakit.engine.retry import Backoff, Verdict
from tellakit.engine.run import EndWriter, ReportRun
from tellakit.engine.runner import CLOSED_DURING_UPLOAD, ReportRunner
from tellakit.engine.scheduler import RetryPolicy, RetryScheduler, TimerFactory, thread_timer
from tellakit.engine.tracker import ProgressTracker
from tellakit.engine.workqueue import Holding, WorkQueue
from tellakit.errors import ReportNotFound, TellakitError
from tellakit.reports import SETTLED, Status, check_transition
from tellakit.version import tellakit_version

log = logging.getLogger(__name__)


class Submitter:
    """Submits a vault's reports to its Nextcloud connection in background threads.

    ``client_factory(settings)`` builds the protocol client (tests may pass their own).
    ``retry`` is the retry policy (scheduler.RetryPolicy); by default automatic retry follows
    the connection's ``auto_retry`` setting (the app resumes by hand unless it is on).
    ``auto_retry``, ``backoff`` and ``max_auto_retries`` set single fields of it (True/False,
    the wait across attempts without progress, the retries in a row without progress).
    ``tuning`` holds the size knobs (tests shrink them so chunked uploads stay small);
    ``timing``, ``timer`` and ``clock`` let tests run the stop and retry decisions without
    waiting.
    """

    def __init__(
        self,
        vault: ReportStore,
        *,
        client_factory: ClientFactory | None = None,
        max_parallel_reports: int = 2,
        retry: RetryPolicy | None = None,
        auto_retry: bool | None = None,
        tuning: Tuning | None = None,
        backoff: Backoff | None = None,
        max_auto_retries: int | None = None,
        chunked_upload_cls: ChunkedUploadFactory | None = None,
        progress_rate: float = 10.0,
        timing: Timing | None = None,
        timer: TimerFactory = thread_timer,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.vault = vault
        self.tuning = tuning or Tuning()
        self.timing = timing or Timing()
        self._client_factory = client_factory or client_for
        self._bus = EventBus(max_rate=progress_rate)
        self._tracker = ProgressTracker()
        self._queue = WorkQueue(self._run, workers=max_parallel_reports, on_end=self._run_ended)
        self._scheduler = RetryScheduler(
            self._retry_due,
            policy=_policy(retry, auto_retry, backoff, max_auto_retries),
            auto_default=lambda: auto_retry_setting(vault),
            probe=lambda: server_answers(vault, self._client_factory),
            timer=timer,
            clock=clock,
            on_change=self._queue.notify,
        )
        self._recorder = StateRecorder(vault, self._bus, outlook=self._scheduler.outlook)
        self._runner = ReportRunner(
            vault=vault,
            queue=self._queue,
            recorder=self._recorder,
            tracker=self._tracker,
            bus=self._bus,
            scheduler=self._scheduler,
            client_factory=self._client_factory,
            chunked_upload=chunked_upload_cls or default_chunked_upload(),
            tuning=self.tuning,
            version=tellakit_version(),
            links=LinkBook(
                vault, share=self.tuning.link_share, request_cost=self.tuning.request_cost
            ),
        )
        self._monitor = CrossProcessMonitor(
            vault, self._queue, self._recorder, interval=self.timing.monitor_interval
        )
        recover_orphans(vault, registry.held_by_others(vault, self))
        registry.register(self)

    def __repr__(self) -> str:
        active = sorted(run.report_id for run in self._queue.running())
        return f"<Submitter vault={str(getattr(self.vault, 'path', '?'))!r} active={active}>"

    # --- one Submitter per vault ----------------------------------------------------------

    @classmethod
    def for_vault(cls, vault: ReportStore, **options: Any) -> Submitter:
        """The open Submitter of ``vault`` in this process, or a new one (with ``options``).

        The app, the CLI and batch code all get theirs here and share one set of workers.
        """
        submitter, _ = registry.shared(vault, lambda: cls(vault, **options))
        return submitter

    @classmethod
    @contextlib.contextmanager
    def shared(cls, vault: ReportStore, **options: Any) -> Iterator[Submitter]:
        """``with Submitter.shared(vault) as sub:`` the vault's Submitter for the block; closed
        at its end only when this call made it."""
        submitter, made = registry.shared(vault, lambda: cls(vault, **options))
        try:
            yield submitter
        finally:
            if made:
                submitter.close()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._queue.closed

    def held(self) -> set[str]:
        """Every report a worker holds or will pick up (stopping ones included)."""
        return self._queue.held()

    # --- commands ---------------------------------------------------------------------------

    def submit(
        self, report_id: str, *, batch: bool = False, retry: RetryPolicy | None = None
    ) -> None:
        """Start (or resume) sending a report; returns at once.

        Draft, queued, paused and interrupted reports become "uploading"; a worker picks them
        up. Submitting a report that is already uploading does nothing. ``batch`` marks a
        report of :meth:`submit_outbox` (held back once a fatal error halted the batch).
        ``retry`` is this report's retry policy until it settles (else the Submitter's).
        """
        self._check_open()
        report = self.vault.get_report(report_id)
        if report.status is not Status.UPLOADING:
            check_transition(report.status, Status.UPLOADING)  # e.g. submitted: refuse
        if retry is not None:
            self._scheduler.prefer(report_id, retry)
        self._scheduler.cancel(report_id)  # a planned retry: this start replaces it
        holding, run = self._queue.lookup(report_id)
        if holding is Holding.LIVE:
            return  # already queued or running
        if holding is Holding.WINDING and run is not None:
            self._follow(run)
        report = self._recorder.record(report_id, Status.UPLOADING, publish=False) or report
        if self._queue.enqueue(report_id, batch=batch):
            self._monitor.ensure_running()
        else:  # the batch was halted meanwhile by a fatal error of another report
            held_back = self._recorder.record(
                report_id,
                Status.INTERRUPTED,
                reason=f"Not sent: {self._queue.halted}",
                retryable=False,
                publish=False,
            )
            report = held_back or report
        self._recorder.publish(report)

    def _follow(self, winding: ReportRun) -> None:
        """A resume while the old worker still waits for a server answer: the new run will
        follow it (never two workers on one report), and the old one records nothing."""
        if not winding.claim_end(EndWriter.SUCCESSOR) and winding.end_writer is EndWriter.WORKER:
            winding.ended.wait(self.timing.stop_grace)  # it is recording its end right now

    def resume(self, report_id: str) -> None:
        """Same as :meth:`submit`: continue a paused or interrupted report where it stopped."""
        self.submit(report_id)

    def submit_later(self, report_id: str) -> None:
        """Move a draft to the outbox as "queued" (nothing is sent until submitted)."""
        self._check_open()
        queued = self.vault.set_status(report_id, Status.QUEUED, reason=None, retryable=None)
        self._recorder.publish(queued)

    def submit_outbox(self) -> list[str]:
        """Submit every queued, paused and interrupted report, oldest first; returns their ids.

        A fatal authentication or quota error stops the dispatch of the reports still waiting
        (they stay in the outbox with their state); retryable errors do not.
        """
        self._check_open()
        self._queue.reopen_batch()
        reports = self.vault.list_reports([Status.QUEUED, Status.PAUSED, Status.INTERRUPTED])
        reports.sort(key=lambda r: r.created_at)
        ids: list[str] = []
        for report in reports:
            if self._queue.halted is not None:
                break
            try:
                self.submit(report.id, batch=True)
            except ReportNotFound:
                continue
            ids.append(report.id)
        return ids

    def pause(self, report_id: str) -> None:
        """Pause a report: the transfer stops mid-body within a second; returns once paused.

        Chunks (and files) the server confirmed stay confirmed; resume continues after them.
        """
        self._scheduler.forget(report_id)  # no automatic retry behind the user's back
        held = self._queue.stop(report_id, StopReason.PAUSE)
        if held is not None:
            held.ended.wait(self.timing.stop_grace)
            if not held.claim_end(EndWriter.CALLER) and held.end_writer is EndWriter.WORKER:
                held.ended.wait(self.timing.stop_grace)  # it is recording its end right now
        report = self.vault.get_report(report_id)
        if report.status in (Status.UPLOADING, Status.QUEUED, Status.INTERRUPTED):
            self._recorder.record(report_id, Status.PAUSED, retryable=report.retryable)
        if held is None:  # else the run's end announces it
            self._announce_if_settled(report_id)

    def delete(self, report_id: str) -> None:
        """Stop sending the report and delete it locally; what the server has stays there.

        A request still in flight is abandoned; if the server completes it anyway, that file
        stays on the server like everything sent before.
        """
        self._scheduler.forget(report_id)
        held = self._queue.stop(report_id, StopReason.DELETE)
        if held is not None:
            held.ended.wait(self.timing.stop_grace)
        self.vault.delete_report(report_id)
        self._bus.forget(report_id)

    def close(self, timeout: float | None = None) -> None:
        """Stop every worker; running reports are recorded as interrupted (resumable)."""
        dropped, held = self._queue.close()
        self._scheduler.close()
        deadline = time.monotonic() + (self.timing.close_wait if timeout is None else timeout)
        for run in held:
            run.ended.wait(max(0.0, min(self.timing.stop_grace, deadline - time.monotonic())))
        # Reports whose worker still waits for a server answer, and reports that were queued
        # but never started: record them as interrupted now (resume continues them). A report
        # being deleted is not recorded: delete() removes it without waiting for a worker
        # stuck in a request (e.g. the final MOVE), so it may be gone already.
        late = [
            run.report_id
            for run in held
            if not run.ended.is_set()
            and run.stop_reason not in (StopReason.DELETE, StopReason.ELSEWHERE)
            and run.claim_end(EndWriter.CALLER)
        ]
        for report_id in [*dropped, *late]:
            with contextlib.suppress(ReportNotFound):  # deleted meanwhile: nothing to record
                self._recorder.record(
                    report_id, Status.INTERRUPTED, reason=CLOSED_DURING_UPLOAD, retryable=True
                )
        self._queue.join(deadline)

    def __enter__(self) -> Submitter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading ---------------------------------------------------------------------------

    def wait(
        self,
        report_id: str | None = None,
        timeout: float | None = None,
        *,
        until: Literal["idle", "settled"] = "idle",
    ) -> bool:
        """Block until the report (or every report) is idle or settled; False if ``timeout``
        passed first.

        ``until="idle"``: no worker holds it and it is not queued (an automatic retry may be
        planned; the report waits in the outbox as interrupted meanwhile).
        ``until="settled"``: its real end for now: submitted, or stopped with no automatic
        retry pending (paused, a fatal error, retry off or given up). A ``SettledEvent`` tells
        subscribers the same.
        """
        if until not in ("idle", "settled"):
            raise ValueError(f"until must be 'idle' or 'settled', not {until!r}")
        also = self._scheduler.pending if until == "settled" else None
        return self._queue.wait(report_id, timeout, also=also)

    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback(event)`` from worker threads; returns an unsubscribe function.

        Events are ``ReportEvent`` (a recorded state), ``FileEvent`` (bytes of one file) and
        ``SettledEvent`` (the report's real end, no retry pending).
        Byte updates come at most about ten times a second per report; every state change is
        delivered. Keep callbacks quick; an exception in one is logged and ignored.
        """
        return self._bus.subscribe(callback)

    def snapshot(self, report_id: str) -> ReportProgress:
        """The report's live state, for a view that (re)opens."""
        report = self.vault.get_report(report_id)
        return self._tracker.snapshot(
            report, active=self._queue.busy(report_id), retry=self._scheduler.outlook(report_id)
        )

    def active(self) -> list[str]:
        """Ids of the reports a worker holds or will pick up next."""
        return self._queue.active()

    # --- parts calling back -------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._queue.closed:
            raise RuntimeError("this Submitter is closed; create a new one")

    def _run(self, run: ReportRun) -> None:
        self._runner.run(run)

    def _run_ended(self, run: ReportRun) -> None:
        self._scheduler.release(run.report_id)  # a retry planned by this run may start now
        self._announce_if_settled(run.report_id, run.failure)

    def _announce_if_settled(self, report_id: str, failure: Verdict | None = None) -> None:
        """Publish a SettledEvent when the report rests with no worker and no retry planned."""
        if self._queue.busy(report_id) or self._scheduler.pending(report_id):
            return
        try:
            report = self.vault.get_report(report_id)
        except TellakitError:
            return  # deleted, or the vault was locked meanwhile
        if report.status in SETTLED:  # else e.g. another process holds it now
            self._recorder.publish_settled(report, failure)

    def _retry_due(self, report_id: str) -> None:
        """A retry timer fired: send the report again if it still waits in the outbox."""
        if self._queue.closed:
            return
        try:
            report = self.vault.get_report(report_id)
        except TellakitError:
            return
        if report.status is Status.INTERRUPTED:
            try:
                self.submit(report_id)
            except (TellakitError, RuntimeError):
                log.info("automatic retry could not start")


def _policy(
    retry: RetryPolicy | None,
    auto_retry: bool | None,
    backoff: Backoff | None,
    max_auto_retries: int | None,
) -> RetryPolicy:
    """The Submitter's retry policy: ``retry`` (or the default) with the single fields set."""
    policy = retry or RetryPolicy()
    if auto_retry is not None:
        policy = replace(policy, auto=auto_retry)
    if backoff is not None:
        policy = replace(policy, backoff=backoff)
    if max_auto_retries is not None:
        policy = replace(policy, retries_without_progress=max_auto_retries)
    return policy
