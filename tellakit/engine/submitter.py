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

Another process (``tellakit pause``, a second notebook) changes state through the vault
alone. So while workers run, one monitor thread per Submitter reads the recorded status of
the reports they hold, at most twice a second (one primary-key query each): a report found
PAUSED there is stopped exactly like a local pause, one found deleted like a local delete,
and one whose attempt count moved on is held by another process's worker now (a resume
there): this worker stops and records nothing.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tellakit.engine.chunking import Tuning
from tellakit.engine.control import Stopped, StopReason, StopToken
from tellakit.engine.events import (
    EventBus,
    FileProgress,
    Listener,
    ProgressEvent,
    ReportProgress,
    SpeedMeter,
)
from tellakit.engine.retry import Backoff, Verdict, classify
from tellakit.engine.submission import ReportSubmission
from tellakit.errors import InvalidTransition, NoConnection, ReportNotFound, TellakitError
from tellakit.reports import Attachment, FileState, Report, Status, check_transition

log = logging.getLogger(__name__)

STOPPED_DURING_UPLOAD = "tellakit stopped during upload; resume to continue where it stopped"
CLOSED_DURING_UPLOAD = "tellakit was closed during upload; resume to continue where it stopped"
#: How long pause/delete wait for the worker before recording the new state themselves.
#: A PUT under the token stops within ~0.25 s, mid-body or while waiting for the answer; a
#: request sent without the token (the final MOVE while the server assembles the file, a
#: PROPFIND) may take longer, and the worker records how it ended when it comes.
STOP_GRACE_SECONDS = 1.0
#: How long close() waits for workers.
STOP_WAIT_SECONDS = 5.0
#: How often the monitor reads the recorded status of the reports workers hold.
MONITOR_INTERVAL_SECONDS = 0.5

ClientFactory = Callable[[Any], Any]  # ConnectionSettings -> NextcloudClient
_REGISTRY: weakref.WeakSet[Submitter] = weakref.WeakSet()
_REGISTRY_LOCK = threading.Lock()


def default_client_factory(settings: Any) -> Any:
    """A NextcloudClient for the vault's connection settings (user id already known)."""
    from tellakit.nextcloud import Credentials, NextcloudClient

    creds = Credentials(
        server_url=settings.server_url,
        login=settings.login,
        password=settings.password,
        allow_insecure_http=settings.allow_insecure_http,
    )
    return NextcloudClient(creds, user_id=settings.user_id or None)


def _tellakit_version() -> str:
    try:
        from tellakit import __version__

        return str(__version__)
    except ImportError:  # pragma: no cover - only while the package is half-built
        return "unknown"


@dataclass
class _Live:
    """What the Submitter knows about a report a worker holds (or is about to)."""

    token: StopToken = field(default_factory=StopToken)
    meter: SpeedMeter = field(default_factory=SpeedMeter)
    running: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    file_sent: dict[str, int] = field(default_factory=dict)
    # pause() recorded PAUSED itself while the worker was still winding down
    state_recorded: bool = False
    # submit() came while the worker was winding down: queue again when it lets go
    resume_requested: bool = False
    # the attempt count this worker recorded; another value means another process took over
    attempt: int | None = None


class Submitter:
    """Submits a vault's reports to its Nextcloud connection in background threads.

    ``client_factory(settings)`` builds the protocol client (tests and the CLI may pass their
    own); ``auto_retry`` (or the connection's ``auto_retry`` setting) resubmits reports stopped
    by a retryable error after an exponential backoff that honours Retry-After. ``tuning``
    holds the size knobs (tests shrink them so chunked uploads stay small).
    """

    def __init__(
        self,
        vault: Any,
        *,
        client_factory: ClientFactory | None = None,
        max_parallel_reports: int = 2,
        auto_retry: bool | None = None,
        tuning: Tuning | None = None,
        backoff: Backoff | None = None,
        max_auto_retries: int = 8,
        chunked_upload_cls: Any = None,
        progress_rate: float = 10.0,
    ):
        self.vault = vault
        self._factory = client_factory or default_client_factory
        self._parallel = max(1, int(max_parallel_reports))
        self._auto_retry = auto_retry
        self.tuning = tuning or Tuning()
        self._backoff = backoff or Backoff()
        self._max_auto_retries = max_auto_retries
        self._chunked_cls = chunked_upload_cls
        self._bus = EventBus(max_rate=progress_rate)
        self._cond = threading.Condition()
        self._queue: deque[str] = deque()
        self._live: dict[str, _Live] = {}
        self._timers: dict[str, threading.Timer] = {}
        self._retries: dict[str, int] = {}
        self._threads: list[threading.Thread] = []
        self._monitor: threading.Thread | None = None
        self._closed = False
        self._halted_reason: str | None = None
        self._version = _tellakit_version()
        self._recover_orphans()
        with _REGISTRY_LOCK:
            _REGISTRY.add(self)
        # Workers are daemons (state is persisted at every step); still, on a normal exit give
        # them a moment to record "interrupted" rather than leave "uploading" behind.
        self_ref = weakref.ref(self)
        atexit.register(_close_at_exit, self_ref)

    def __repr__(self) -> str:
        with self._cond:
            active = sorted(r for r, live in self._live.items() if live.running)
        return f"<Submitter vault={str(getattr(self.vault, 'path', '?'))!r} active={active}>"

    # --- public API -------------------------------------------------------------------

    def submit(self, report_id: str, *, batch: bool = False) -> None:
        """Start (or resume) sending a report; returns at once.

        Draft, queued, paused and interrupted reports become "uploading"; a worker picks them
        up. Submitting a report that is already uploading does nothing. ``batch`` marks a
        report of :meth:`submit_outbox` (held back once a fatal error halted the batch).
        """
        self._check_open()
        report = self.vault.get_report(report_id)
        if report.status is not Status.UPLOADING:
            check_transition(report.status, Status.UPLOADING)  # e.g. submitted: refuse
        self._cancel_timer(report_id)
        with self._cond:
            live = self._live.get(report_id)
            if live is not None and not live.token.is_set():
                return  # already queued or running
            winding = live if live is not None and live.running else None
            if winding is not None:
                # The old worker still waits for a server answer; never run two workers on
                # one report: it queues the report again when it lets go.
                winding.resume_requested = True
        report = self._set_status(report_id, Status.UPLOADING) or report
        if winding is None and not self._enqueue(report_id, batch=batch):
            # The batch was halted meanwhile by a fatal error of another report.
            held = self._set_status(
                report_id,
                Status.INTERRUPTED,
                reason=f"Not sent: {self._halted_reason}",
                retryable=False,
            )
            report = held or report
        self._emit_state(report)

    def resume(self, report_id: str) -> None:
        """Same as :meth:`submit`: continue a paused or interrupted report where it stopped."""
        self.submit(report_id)

    def submit_later(self, report_id: str) -> None:
        """Move a draft to the outbox as "queued" (nothing is sent until submitted)."""
        self._check_open()
        report = self.vault.set_status(report_id, Status.QUEUED)
        self._emit_state(report)

    def submit_outbox(self) -> list[str]:
        """Submit every queued, paused and interrupted report, oldest first; returns their ids.

        A fatal authentication or quota error stops the dispatch of the reports still waiting
        (they stay in the outbox with their state); retryable errors do not.
        """
        self._check_open()
        with self._cond:
            self._halted_reason = None
        reports = self.vault.list_reports([Status.QUEUED, Status.PAUSED, Status.INTERRUPTED])
        reports.sort(key=lambda r: r.created_at)
        ids: list[str] = []
        for report in reports:
            with self._cond:
                if self._halted_reason is not None:
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
        self._cancel_timer(report_id)
        with self._cond:
            live, running = self._stop_locked(report_id, StopReason.PAUSE)
            if live is not None and not running:
                self._live.pop(report_id, None)
        if running:
            assert live is not None
            if live.done.wait(STOP_GRACE_SECONDS):
                return  # the worker recorded PAUSED
            with self._cond:
                live.state_recorded = True
        report = self.vault.get_report(report_id)
        if report.status in (Status.UPLOADING, Status.QUEUED, Status.INTERRUPTED):
            paused = self._set_status(report_id, Status.PAUSED, retryable=report.retryable)
            if paused is not None:
                self._emit_state(paused)

    def delete(self, report_id: str) -> None:
        """Stop sending the report and delete it locally; what the server has stays there.

        A request still in flight is abandoned; if the server completes it anyway, that file
        stays on the server like everything sent before.
        """
        self._cancel_timer(report_id)
        with self._cond:
            live, running = self._stop_locked(report_id, StopReason.DELETE)
        if running:
            assert live is not None
            live.done.wait(STOP_GRACE_SECONDS)
        with self._cond:
            if live is not None and self._live.get(report_id) is live and not live.running:
                self._live.pop(report_id, None)
        self.vault.delete_report(report_id)
        self._bus.forget(report_id)

    def wait(self, report_id: str | None = None, timeout: float | None = None) -> bool:
        """Block until the report (or every report) is idle; False if ``timeout`` passed first.

        Idle means no worker holds it and it is not queued (a pending automatic retry counts
        as idle: the report sits in the outbox as interrupted meanwhile).
        """
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if report_id is None:
                    busy = bool(self._queue) or any(v.running for v in self._live.values())
                else:
                    busy = report_id in self._queue or (
                        report_id in self._live and self._live[report_id].running
                    )
                if not busy:
                    return True
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(0.5 if left is None else min(left, 0.5))

    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback(ProgressEvent)`` from worker threads; returns an unsubscribe function.

        Byte updates come at most about ten times a second per report; every state change is
        delivered. Keep callbacks quick; an exception in one is logged and ignored.
        """
        return self._bus.subscribe(callback)

    def snapshot(self, report_id: str) -> ReportProgress:
        """The report's live state, for a view that (re)opens."""
        report = self.vault.get_report(report_id)
        with self._cond:
            live = self._live.get(report_id)
            active = live is not None and (live.running or report_id in self._queue)
            speed = live.meter.rate if live is not None and live.running else 0.0
            file_sent = dict(live.file_sent) if live is not None else {}
        files = tuple(
            FileProgress(
                attachment_id=a.id,
                name=a.name,
                remote_name=a.remote_name,
                bytes_sent=max(a.bytes_sent, file_sent.get(a.id, 0))
                if a.state is not FileState.VERIFIED
                else a.size,
                total=a.size,
                state=a.state.value,
                error=a.error,
            )
            for a in sorted(report.attachments, key=lambda a: a.position)
        )
        return ReportProgress(
            report_id=report.id,
            title=report.title,
            state=report.status.value,
            reason=report.reason,
            retryable=report.retryable,
            bytes_sent=sum(min(f.bytes_sent, f.total) for f in files),
            total=report.total_bytes,
            speed_bps=speed,
            active=active,
            remote_folder=report.remote_folder,
            files=files,
        )

    def active(self) -> list[str]:
        """Ids of the reports a worker holds or will pick up next."""
        with self._cond:
            return [r for r, live in self._live.items() if not live.token.is_set()]

    def close(self, timeout: float = STOP_WAIT_SECONDS) -> None:
        """Stop every worker; running reports are recorded as interrupted (resumable)."""
        import time

        with self._cond:
            if self._closed:
                return
            self._closed = True
            waiting = list(self._queue)
            self._queue.clear()
            for live in self._live.values():
                live.token.stop(StopReason.CLOSE)
            running = [(rid, live) for rid, live in self._live.items() if live.running]
            timers = list(self._timers.values())
            self._timers.clear()
            self._cond.notify_all()
        for timer in timers:
            timer.cancel()
        deadline = time.monotonic() + timeout
        for _, live in running:
            live.done.wait(max(0.0, min(STOP_GRACE_SECONDS, deadline - time.monotonic())))
        # Reports whose worker still waits for a server answer, and reports that were queued
        # but never started: record them as interrupted now (resume continues them). A report
        # being deleted is not recorded: delete() removes it without waiting for a worker
        # stuck in a request (e.g. the final MOVE), so it may be gone already.
        late = [
            rid
            for rid, live in running
            if not live.done.is_set()
            and live.token.reason not in (StopReason.DELETE, StopReason.ELSEWHERE)
        ]
        with self._cond:
            for _rid, live in running:
                if not live.done.is_set():
                    live.state_recorded = True
        for rid in [*waiting, *late]:
            try:
                report = self._set_status(
                    rid, Status.INTERRUPTED, reason=CLOSED_DURING_UPLOAD, retryable=True
                )
            except ReportNotFound:
                continue  # deleted meanwhile (a delete racing close): nothing to record
            if report is not None:
                self._emit_state(report)
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> Submitter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- queue and workers -------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this Submitter is closed; create a new one")

    def _stop_locked(self, report_id: str, reason: StopReason) -> tuple[_Live | None, bool]:
        """Unqueue the report and stop its worker's token; returns (live, running).

        The caller holds ``self._cond``.
        """
        live = self._live.get(report_id)
        if report_id in self._queue:
            self._queue.remove(report_id)
        if live is not None:
            live.token.stop(reason)
            live.resume_requested = False
        return live, live is not None and live.running

    def _enqueue(self, report_id: str, *, batch: bool = False) -> bool:
        """Queue the report for a worker; False when a batch was halted by a fatal error."""
        with self._cond:
            if batch and self._halted_reason is not None:
                return False
            if report_id not in self._queue:
                self._queue.append(report_id)
            self._live[report_id] = self._live.get(report_id) or _Live()
            if self._live[report_id].token.is_set() and not self._live[report_id].running:
                self._live[report_id] = _Live()
            self._start_workers()
            self._cond.notify_all()
            return True

    def _start_workers(self) -> None:
        alive = [t for t in self._threads if t.is_alive()]
        self._threads = alive
        while len(self._threads) < self._parallel:
            t = threading.Thread(
                target=self._worker_loop,
                name=f"tellakit-submitter-{len(self._threads) + 1}",
                daemon=True,
            )
            self._threads.append(t)
            t.start()
        if self._monitor is None or not self._monitor.is_alive():
            self._monitor = threading.Thread(
                target=self._monitor_loop, name="tellakit-submitter-monitor", daemon=True
            )
            self._monitor.start()

    # --- changes made by other processes ---------------------------------------------

    def _monitor_loop(self) -> None:
        """Watch the recorded state of running reports; ends when no worker runs."""
        while True:
            with self._cond:
                if self._closed:
                    return
                running = [(rid, live) for rid, live in self._live.items() if live.running]
                if not running and not self._queue:
                    self._monitor = None
                    return
            for report_id, live in running:
                try:
                    self._check_recorded(report_id, live)
                except Exception:  # a locked or busy vault: try again on the next tick
                    log.debug("could not read a running report's state", exc_info=True)
            # Sleep a full interval (notifications of the condition do not shorten it).
            wake = time.monotonic() + MONITOR_INTERVAL_SECONDS
            with self._cond:
                while not self._closed and (left := wake - time.monotonic()) > 0:
                    self._cond.wait(left)
                if self._closed:
                    return

    def _check_recorded(self, report_id: str, live: _Live) -> None:
        """Stop ``live`` when another process paused, deleted or took over its report."""
        if live.token.is_set():
            return
        try:
            report = self.vault.get_report(report_id)
        except ReportNotFound:
            log.info("report deleted by another process; its upload stops")
            live.token.stop(StopReason.DELETE)
            return
        restore = False
        with self._cond:
            if not live.running or live.token.is_set():
                return
            if report.status is Status.PAUSED:
                # Recorded already: the worker must not write PAUSED (or anything) again.
                live.state_recorded = True
                live.token.stop(StopReason.PAUSE)
            elif live.attempt is not None and report.attempts != live.attempt:
                live.token.stop(StopReason.ELSEWHERE)
            elif report.status is Status.INTERRUPTED and report.reason == STOPPED_DURING_UPLOAD:
                restore = True
            else:
                return
        if restore:
            # Another process's Submitter took this live upload for an orphan of a dead
            # process; it is not: show it uploading again (nobody else resumed it).
            restored = self._set_status(report_id, Status.UPLOADING)
            if restored is not None:
                self._emit_state(restored)
            return
        log.info("report %s by another process; its upload here stops", report.status.value)
        if report.status is Status.PAUSED:
            self._emit_state(report)

    def _worker_loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                report_id = self._queue.popleft()
                live = self._live.get(report_id)
                if live is None or live.token.is_set():
                    continue
                live.running = True
                live.done.clear()
            try:
                self._run_report(report_id, live)
            except Exception:  # never let a worker die silently
                log.exception("submission worker failed unexpectedly")
            finally:
                with self._cond:
                    live.running = False
                    live.done.set()
                    if self._live.get(report_id) is live:
                        del self._live[report_id]
                    if live.resume_requested and not self._closed:
                        self._live[report_id] = _Live()
                        self._queue.append(report_id)
                    self._cond.notify_all()

    @classmethod
    def for_vault(cls, vault: Any, **kwargs: Any) -> Submitter:
        """The open Submitter of ``vault`` in this process, or a new one (``kwargs`` then).

        Views, the CLI and batch code can all call this and share one set of workers.
        """
        with _REGISTRY_LOCK:
            for sub in list(_REGISTRY):
                if sub.vault is vault and not sub._closed:
                    return sub
        return cls(vault, **kwargs)

    def _recover_orphans(self) -> None:
        """Reports left "uploading" by a process that died: show them interrupted, resumable.

        Reports held by another open Submitter of the same vault object are left alone.
        """
        try:
            orphans = self.vault.list_reports(Status.UPLOADING)
        except Exception:
            log.exception("could not list reports to recover interrupted uploads")
            return
        with _REGISTRY_LOCK:
            others = [s for s in _REGISTRY if s.vault is self.vault and not s._closed]
        held: set[str] = set()
        for other in others:
            with other._cond:
                held.update(other._live)
        for report in orphans:
            if report.id in held:
                continue
            try:
                self.vault.set_status(
                    report.id, Status.INTERRUPTED, reason=STOPPED_DURING_UPLOAD, retryable=True
                )
            except TellakitError:
                log.warning("could not mark an orphaned upload as interrupted")

    # --- one report -------------------------------------------------------------------

    def _run_report(self, report_id: str, live: _Live) -> None:
        token = live.token
        try:
            report = self.vault.get_report(report_id)
        except ReportNotFound:
            return
        if token.is_set():
            return
        if report.status is Status.PAUSED:
            # Submitted here, then paused by another process before a worker got to it.
            self._emit_state(report)
            return
        if report.status is not Status.UPLOADING:
            report = self.vault.set_status(report_id, Status.UPLOADING, reason=None, retryable=None)
        attempt = report.attempts + 1
        self.vault.update_report_submission(report_id, attempts=attempt)
        live.attempt = attempt  # after the write: the monitor compares the recorded count
        live.meter.reset()
        self._emit_state(report)
        client = None
        try:
            settings = self._connection()
            client = self._factory(settings)
            submission = ReportSubmission(
                vault=self.vault,
                client=client,
                chunked_upload_cls=self._chunked_upload_cls(),
                capabilities=client.capabilities(),
                root_folder=settings.root_folder,
                upload_manifest=settings.upload_manifest,
                report_id=report_id,
                token=token,
                tuning=self.tuning,
                on_progress=lambda r, a, n: self._on_progress(live, r, a, n),
                tellakit_version=self._version,
            )
            done = submission.run()
            with self._cond:
                self._retries.pop(report_id, None)
            self._emit_state(done)
        except BaseException as exc:
            self._handle_stop_or_error(report_id, live, exc, settings_auto=self._settings_auto())
            if not isinstance(exc, Exception):
                raise
        finally:
            if client is not None:
                try:
                    client.close()
                except Exception:
                    log.debug("closing the client failed", exc_info=True)

    def _connection(self) -> Any:
        settings = self.vault.get_connection()
        if settings is None:
            raise NoConnection("This vault has no Nextcloud connection; connect first.")
        return settings

    def _chunked_upload_cls(self) -> Any:
        if self._chunked_cls is not None:
            return self._chunked_cls
        from tellakit.nextcloud import ChunkedUpload

        return ChunkedUpload

    def _settings_auto(self) -> bool:
        if self._auto_retry is not None:
            return self._auto_retry
        try:
            settings = self.vault.get_connection()
        except Exception:
            return False
        return bool(settings is not None and settings.auto_retry)

    def _is_cancel(self, exc: BaseException) -> bool:
        if isinstance(exc, Stopped):
            return True
        try:
            from tellakit.nextcloud import Cancelled
        except ImportError:  # pragma: no cover
            return False
        return isinstance(exc, Cancelled)

    def _handle_stop_or_error(
        self, report_id: str, live: _Live, exc: BaseException, *, settings_auto: bool
    ) -> None:
        token = live.token
        reason = token.reason if token.is_set() else None
        if reason is None and self._is_cancel(exc):
            reason = StopReason.PAUSE
        try:
            if reason in (StopReason.DELETE, StopReason.ELSEWHERE):
                return
            if reason is StopReason.PAUSE:
                with self._cond:
                    skip = live.state_recorded or live.resume_requested
                if not skip:
                    paused = self._set_status(report_id, Status.PAUSED)
                    if paused is not None:
                        self._emit_state(paused)
                return
            if reason is StopReason.CLOSE:
                if not live.state_recorded:
                    closed = self._set_status(
                        report_id, Status.INTERRUPTED, reason=CLOSED_DURING_UPLOAD, retryable=True
                    )
                    if closed is not None:
                        self._emit_state(closed)
                return
            verdict = classify(exc)
            if not isinstance(exc, TellakitError):
                log.error("submission stopped by an unexpected %s", type(exc).__name__)
            else:
                log.info("submission interrupted: %s", verdict.reason)
            report = self.vault.set_status(
                report_id, Status.INTERRUPTED, reason=verdict.reason, retryable=verdict.retryable
            )
            self._emit_state(report)
            if verdict.stops_batch:
                self._halt_dispatch(verdict)
            elif verdict.retryable and settings_auto:
                self._schedule_retry(report_id, verdict)
        except ReportNotFound:
            return  # deleted meanwhile
        except TellakitError as exc:  # e.g. the vault was locked while a worker wound down
            log.info("could not record how a submission ended: %s", type(exc).__name__)

    def _set_status(self, report_id: str, status: Status, **kw: Any) -> Report | None:
        """Move the report to ``status`` unless it is there already or the model forbids it.

        Returns the updated report, or None when nothing changed (a race with a worker that
        finished first, e.g. the report got submitted while being paused).
        """
        try:
            current = self.vault.get_report(report_id)
            if current.status is status:
                return None
            kw.setdefault("reason", None)
            kw.setdefault("retryable", None)
            return self.vault.set_status(report_id, status, **kw)
        except InvalidTransition as exc:
            log.info("report state not changed: %s", exc)
            return None

    def _halt_dispatch(self, verdict: Verdict) -> None:
        """A fatal auth/quota error: reports still waiting would fail the same way."""
        with self._cond:
            self._halted_reason = verdict.reason
            waiting = list(self._queue)
            self._queue.clear()
            for rid in waiting:
                self._live.pop(rid, None)
            self._cond.notify_all()
        for rid in waiting:
            try:
                report = self.vault.set_status(
                    rid,
                    Status.INTERRUPTED,
                    reason=f"Not sent: {verdict.reason}",
                    retryable=False,
                )
                self._emit_state(report)
            except TellakitError:
                log.warning("could not record a report held back after a fatal error")

    def _schedule_retry(self, report_id: str, verdict: Verdict) -> None:
        with self._cond:
            attempt = self._retries.get(report_id, 0)
            if attempt >= self._max_auto_retries:
                return
            self._retries[report_id] = attempt + 1
        delay = self._backoff.delay(attempt, verdict.retry_after)

        def fire() -> None:
            with self._cond:
                self._timers.pop(report_id, None)
                if self._closed:
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

        timer = threading.Timer(delay, fire)
        timer.daemon = True
        with self._cond:
            self._timers[report_id] = timer
        timer.start()

    def _cancel_timer(self, report_id: str) -> None:
        with self._cond:
            timer = self._timers.pop(report_id, None)
        if timer is not None:
            timer.cancel()

    # --- events -----------------------------------------------------------------------

    def _emit_state(self, report: Report) -> None:
        self._bus.publish(
            ProgressEvent(
                report_id=report.id,
                attachment_id=None,
                name=report.title,
                bytes_sent=report.bytes_sent,
                total=report.total_bytes,
                speed_bps=0.0,
                state=report.status.value,
                reason=report.reason,
                report_bytes_sent=report.bytes_sent,
                report_total=report.total_bytes,
                retryable=report.retryable,
            ),
            force=True,
        )

    def _on_progress(self, live: _Live, report: Report, att: Attachment | None, sent: int) -> None:
        if att is None:
            return
        previous = live.file_sent.get(att.id, 0)
        live.file_sent[att.id] = sent
        speed = live.meter.add(max(0, sent - previous))
        report_sent = sum(
            a.size
            if a.state in (FileState.UPLOADED, FileState.VERIFIED)
            else max(a.bytes_sent, live.file_sent.get(a.id, 0))
            for a in report.attachments
        )
        self._bus.publish(
            ProgressEvent(
                report_id=report.id,
                attachment_id=att.id,
                name=att.name,
                bytes_sent=sent,
                total=att.size,
                speed_bps=speed,
                state=Status.UPLOADING.value,
                file_state=att.state.value,
                report_bytes_sent=min(report_sent, report.total_bytes),
                report_total=report.total_bytes,
            )
        )


def _close_at_exit(ref: weakref.ReferenceType[Submitter]) -> None:
    submitter = ref()
    if submitter is not None:
        submitter.close(timeout=2.0)
