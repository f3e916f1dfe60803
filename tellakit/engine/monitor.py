"""Changes other processes make to the reports this process sends, and their dead uploads.

Another process (``tellakit pause``, a second notebook) changes a report through the vault
alone. So while workers run, one monitor thread per Submitter reads the recorded state of the
reports they hold, twice a second (one primary-key query each):

* found PAUSED there: this run stops as for a local pause, and records nothing (it is recorded);
* found deleted (or the vault quick-deleted): it stops as for a local delete;
* its attempt count moved on: another process's worker holds the report now (a resume
  there); this run stops and records nothing;
* found INTERRUPTED as "stopped during upload": another process's Submitter took this live
  upload for an orphan of a dead process; it is shown uploading again.

Orphans: a report found "uploading" when a Submitter opens, held by no Submitter of this
process, was left by a process that died; it is recorded as interrupted and resumes where it
stopped.

Thread rules: the monitor has no lock. It reads the runs to watch from the work queue (under
the queue's condition), reads the vault without any lock, and stops a run only after winning
its ``claim_end`` (or, for a delete, just through its token), so it never races a worker into
writing twice.
"""

from __future__ import annotations

import logging
import threading

from tellakit.engine.control import StopReason
from tellakit.engine.ports import ReportStore
from tellakit.engine.recorder import StateRecorder
from tellakit.engine.run import EndWriter, ReportRun
from tellakit.engine.workqueue import WorkQueue
from tellakit.errors import ReportNotFound, TellakitError, VaultDestroyed
from tellakit.reports import Status

log = logging.getLogger(__name__)

STOPPED_DURING_UPLOAD = "tellakit stopped during upload; resume to continue where it stopped"


class CrossProcessMonitor:
    """Watches the recorded state of the runs ``queue`` holds; see the module docstring."""

    def __init__(
        self,
        vault: ReportStore,
        queue: WorkQueue,
        recorder: StateRecorder,
        *,
        interval: float,
    ) -> None:
        self.vault = vault
        self.queue = queue
        self.recorder = recorder
        self.interval = interval
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def ensure_running(self) -> None:
        """Start the monitor thread (once; it lives until the queue closes)."""
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="tellakit-submitter-monitor", daemon=True
                )
                self._thread.start()

    def _loop(self) -> None:
        while not self.queue.closed:
            for run in self.queue.running():
                try:
                    self.check(run)
                except Exception:  # a locked or busy vault: try again on the next tick
                    log.debug("could not read a running report's state", exc_info=True)
            if self.queue.sleep(self.interval):
                return

    def check(self, run: ReportRun) -> None:
        """Stop ``run`` when another process paused, deleted or took over its report."""
        if run.stopping:
            return
        try:
            report = self.vault.get_report(run.report_id)
        except (ReportNotFound, VaultDestroyed):
            # Deleted, or the whole vault quick-deleted, by another process: nothing is left
            # to record the end in, and nothing more may be read from the vault.
            log.info("report deleted by another process; its upload stops")
            run.claim_end(EndWriter.ELSEWHERE)
            run.stop(StopReason.DELETE)
            return
        if report.status is Status.PAUSED:
            if run.claim_end(EndWriter.ELSEWHERE):  # recorded already: nobody writes again
                log.info("report paused by another process; its upload here stops")
                run.stop(StopReason.PAUSE)
                self.recorder.publish(report)
        elif run.attempt is not None and report.attempts != run.attempt:
            if run.claim_end(EndWriter.ELSEWHERE):
                log.info("report resumed by another process; its upload here stops")
                run.stop(StopReason.ELSEWHERE)
        elif report.status is Status.INTERRUPTED and report.reason == STOPPED_DURING_UPLOAD:
            # Another process's Submitter took this live upload for an orphan of a dead
            # process; it is not: show it uploading again (nobody else resumed it).
            self.recorder.record(run.report_id, Status.UPLOADING)


def recover_orphans(vault: ReportStore, held_here: set[str]) -> None:
    """Reports left "uploading" by a process that died: record them interrupted, resumable.

    ``held_here`` are the reports the open Submitters of this process hold; they are alive.
    """
    try:
        orphans = vault.list_reports(Status.UPLOADING)
    except Exception:  # a vault that cannot be read now: nothing to recover from
        log.exception("could not list reports to recover interrupted uploads")
        return
    for report in orphans:
        if report.id in held_here:
            continue
        try:
            vault.set_status(
                report.id, Status.INTERRUPTED, reason=STOPPED_DURING_UPLOAD, retryable=True
            )
        except TellakitError:
            log.warning("could not mark an orphaned upload as interrupted")
