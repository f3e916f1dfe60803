"""Running one report on a worker thread, and recording how the run ended.

A run reads the connection, builds a client (``client_factory``), records the attempt count
(the cross-process monitor compares it), and hands the step plan to ``ReportSubmission``.
When it stops, the stop token says why, and the run's one ``claim_end`` says whether this
worker may write:

    submitted            the submission recorded it; a pending retry count is cleared
    paused (token)       PAUSED, unless someone else claimed the end
    closing (token)      INTERRUPTED "closed during upload" (resumable), unless claimed
    deleted / elsewhere  nothing (the report is gone, or another process holds it)
    an error             INTERRUPTED with the verdict's reason and the retry scheduler's plan
                         ("[automatic retry: ...]"); a fatal auth/quota error halts the batch

Every piece the server confirms (description, chunk, file, verification, manifest) reaches
the run through one typed callback (``Confirmed``); the runner tells the retry scheduler,
for which it is what "this attempt made progress" means. Each run gets the model of the link
to its server (``LinkBook``, link.py), shared by the runs of this Submitter.

Thread rules: the runner has no lock and no state of its own beyond its collaborators; each
worker thread calls :meth:`ReportRunner.run` for the run it holds.
"""

from __future__ import annotations

import logging

from tellakit.engine.chunking import Tuning
from tellakit.engine.confirm import Confirmed
from tellakit.engine.connection import connection_of
from tellakit.engine.control import Stopped, StopReason
from tellakit.engine.events import EventBus
from tellakit.engine.link import LinkBook
from tellakit.engine.ports import (
    ChunkedUploadFactory,
    ClientFactory,
    ProtocolClient,
    ReportStore,
)
from tellakit.engine.recorder import StateRecorder
from tellakit.engine.retry import Verdict, classify
from tellakit.engine.run import EndWriter, ReportRun
from tellakit.engine.scheduler import RetryScheduler
from tellakit.engine.serverfacts import ServerFacts
from tellakit.engine.submission import ReportSubmission
from tellakit.engine.tracker import ProgressTracker
from tellakit.engine.workqueue import WorkQueue
from tellakit.errors import ReportNotFound, TellakitError
from tellakit.nextcloud.cancel import Cancelled
from tellakit.reports import Attachment, Report, Status
from tellakit.vault.models import ConnectionSettings

log = logging.getLogger(__name__)

CLOSED_DURING_UPLOAD = "tellakit was closed during upload; resume to continue where it stopped"


class ReportRunner:
    """Runs reports for a Submitter; see the module docstring."""

    def __init__(
        self,
        *,
        vault: ReportStore,
        queue: WorkQueue,
        recorder: StateRecorder,
        tracker: ProgressTracker,
        bus: EventBus,
        scheduler: RetryScheduler,
        client_factory: ClientFactory,
        chunked_upload: ChunkedUploadFactory,
        tuning: Tuning,
        version: str,
        links: LinkBook,
        facts: ServerFacts | None = None,
    ) -> None:
        self.vault = vault
        self.queue = queue
        self.recorder = recorder
        self.tracker = tracker
        self.bus = bus
        self.scheduler = scheduler
        self.client_factory = client_factory
        self.chunked_upload = chunked_upload
        self.tuning = tuning
        self.version = version
        self.links = links
        self.facts = facts or ServerFacts()

    def run(self, run: ReportRun) -> None:
        """Send the report of ``run`` as far as it goes; record how it ended."""
        report = self._start(run)
        if report is None:
            return
        client: ProtocolClient | None = None
        self.tracker.begin(run.report_id)
        try:
            settings = connection_of(self.vault)
            client = self.client_factory(settings)
            done = self._submission(run, client, settings).run()
            self.scheduler.succeeded(run.report_id)
            self.recorder.publish(done)
        except BaseException as exc:
            self._ended_by(run, exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            self.tracker.end(run.report_id)
            if client is not None:
                try:
                    client.close()
                except Exception:
                    log.debug("closing the client failed", exc_info=True)

    def _start(self, run: ReportRun) -> Report | None:
        """Record the attempt; the report, or None when there is nothing to run."""
        try:
            report = self.vault.get_report(run.report_id)
        except ReportNotFound:
            return None
        if run.stopping:
            return None
        if report.status is Status.PAUSED:
            # Submitted here, then paused by another process before a worker got to it.
            self.recorder.publish(report)
            return None
        if report.status is not Status.UPLOADING:
            report = self.vault.set_status(
                run.report_id, Status.UPLOADING, reason=None, retryable=None
            )
        attempt = report.attempts + 1
        self.vault.update_report_submission(run.report_id, attempts=attempt)
        run.record_attempt(attempt)  # after the write: the monitor compares the recorded count
        self.scheduler.started(run.report_id)
        self.recorder.publish(report)
        return report

    def _submission(
        self, run: ReportRun, client: ProtocolClient, settings: ConnectionSettings
    ) -> ReportSubmission:
        def on_progress(report: Report, att: Attachment | None, done: int, flying: int) -> None:
            if att is not None:
                self.bus.publish(self.tracker.file_bytes(report, att, done, flying))

        def on_verify_progress(report: Report, att: Attachment, downloaded: int) -> None:
            self.bus.publish(self.tracker.verify_bytes(report, att, downloaded))

        def on_confirmed(_piece: Confirmed) -> None:
            self.scheduler.progressed(run.report_id)

        account = (settings.server_url, settings.user_id)
        return ReportSubmission(
            vault=self.vault,
            client=client,
            chunked_upload=self.chunked_upload,
            capabilities=self.facts.capabilities(account, client.capabilities),
            root_folder=settings.root_folder,
            upload_manifest=settings.upload_manifest,
            report_id=run.report_id,
            token=run.token,
            tuning=self.tuning,
            on_progress=on_progress,
            tellakit_version=self.version,
            on_confirmed=on_confirmed,
            link=self.links.link(settings.server_url),
            without_digest=settings.without_digest,
            on_verify_progress=on_verify_progress,
            root_known=self.facts.root_exists(account, settings.root_folder),
            on_root=lambda exists: (self.facts.root_made if exists else self.facts.root_missing)(
                account, settings.root_folder
            ),
            encrypt_to=settings.encrypt_to,
            readable_names=settings.readable_names,
        )

    # --- how the run ended --------------------------------------------------------------------

    def _ended_by(self, run: ReportRun, exc: BaseException) -> None:
        reason = run.stop_reason
        if reason is None and isinstance(exc, (Stopped, Cancelled)):
            reason = StopReason.PAUSE
        try:
            if reason in (StopReason.DELETE, StopReason.ELSEWHERE):
                return
            if not run.claim_end(EndWriter.WORKER):
                return  # recorded by whoever claimed it (pause, close, the monitor, a resume)
            if reason is StopReason.PAUSE:
                self.recorder.record(run.report_id, Status.PAUSED)
            elif reason is StopReason.CLOSE:
                self.recorder.record(
                    run.report_id,
                    Status.INTERRUPTED,
                    reason=CLOSED_DURING_UPLOAD,
                    retryable=True,
                )
            else:
                run.failure = classify(exc)
                self._failed(run.report_id, run.failure, exc)
        except ReportNotFound:
            return  # deleted meanwhile
        except TellakitError as error:  # e.g. the vault was locked while a worker wound down
            log.info("could not record how a submission ended: %s", type(error).__name__)

    def _failed(self, report_id: str, verdict: Verdict, exc: BaseException) -> None:
        if isinstance(exc, TellakitError):
            log.info("submission interrupted: %s", verdict.reason)
        else:
            log.error("submission stopped by an unexpected %s", type(exc).__name__)
        plan = self.scheduler.failed(report_id, verdict)
        reason = f"{verdict.reason} {plan.note}" if plan.note else verdict.reason
        report = self.vault.set_status(
            report_id, Status.INTERRUPTED, reason=reason, retryable=verdict.retryable
        )
        self.recorder.publish(report)
        if verdict.stops_batch:
            self._halt(verdict)

    def _halt(self, verdict: Verdict) -> None:
        """A fatal auth/quota error: reports still waiting would fail the same way."""
        for report_id in self.queue.halt_batch(verdict.reason):
            try:
                self.recorder.record(
                    report_id,
                    Status.INTERRUPTED,
                    reason=f"Not sent: {verdict.reason}",
                    retryable=False,
                )
            except TellakitError:
                log.warning("could not record a report held back after a fatal error")
