"""The Submitter's decisions, on fake ports (no server, no sleeping): stop, pause during
wind-down, resume while winding down, another process, close during upload, retry timers.

A FakeServer holds every PUT at a gate, after its body was read: with ``honour_cancel`` the
held PUT notices a pause at once (as a real PUT does), without it the worker stays stuck until
the gate opens (as in the final MOVE, while the server assembles a file).
"""

from __future__ import annotations

import pytest
from engine_helpers import wait_for
from fakes import FakeServer, FakeTimers, FakeVault

from tellakit.engine import ReportEvent, Submitter
from tellakit.engine.control import Timing
from tellakit.engine.monitor import STOPPED_DURING_UPLOAD
from tellakit.engine.retry import Backoff
from tellakit.engine.runner import CLOSED_DURING_UPLOAD
from tellakit.errors import AuthenticationFailed, ConnectionLost, RateLimited, ServerUnavailable
from tellakit.reports import Status

pytestmark = pytest.mark.timeout(30)

FAST = Timing(stop_grace=0.05, close_wait=2.0, monitor_interval=0.01)
UPLOADING, PAUSED, INTERRUPTED, SUBMITTED = (
    Status.UPLOADING, Status.PAUSED, Status.INTERRUPTED, Status.SUBMITTED
)  # fmt: skip


@pytest.fixture
def vault() -> FakeVault:
    return FakeVault()


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def timers() -> FakeTimers:
    return FakeTimers()


@pytest.fixture
def make(vault, server, timers):
    made: list[Submitter] = []

    def factory(**kw) -> Submitter:
        kw.setdefault("timing", FAST)
        kw.setdefault("timer", timers)
        sub = Submitter(vault, client_factory=server.client, **kw)
        made.append(sub)
        return sub

    yield factory
    for sub in made:
        sub.close()


def stuck_upload(vault, server, sub, *, honour_cancel: bool, title: str = "r"):
    """A report whose first PUT (its description) waits at the closed gate."""
    report = vault.add_report(title, {"a.bin": b"a" * 1000})
    server.gate.clear()
    server.honour_cancel = honour_cancel
    sub.submit(report.id)
    assert server.waiting.wait(10)
    return report


# --- stop ------------------------------------------------------------------------------------


def test_pause_stops_the_upload_and_the_worker_records_paused_once(vault, server, make):
    sub = make()
    report = stuck_upload(vault, server, sub, honour_cancel=True)
    sub.pause(report.id)
    assert vault.get_report(report.id).status is PAUSED
    assert sub.wait(report.id, timeout=10)
    assert vault.statuses(report.id) == [UPLOADING, PAUSED]
    assert server.files == {}  # the PUT was abandoned
    server.gate.set()
    sub.resume(report.id)
    assert sub.wait(report.id, timeout=10)
    assert vault.statuses(report.id) == [UPLOADING, PAUSED, UPLOADING, SUBMITTED]


def test_delete_stops_the_upload_and_nothing_is_recorded(vault, server, make):
    sub = make()
    report = stuck_upload(vault, server, sub, honour_cancel=True)
    sub.delete(report.id)
    assert sub.wait(timeout=10)
    assert vault.list_reports() == []
    assert vault.statuses(report.id) == [UPLOADING]


# --- pause during wind-down --------------------------------------------------------------------


def test_pause_while_the_worker_cannot_let_go_records_paused_and_the_worker_nothing(
    vault, server, make
):
    sub = make()
    report = stuck_upload(vault, server, sub, honour_cancel=False)
    sub.pause(report.id)  # returns after the grace period: the worker is still stuck
    assert vault.get_report(report.id).status is PAUSED
    assert sub.active() == []
    server.gate.set()  # the stuck request completes; the worker sees the token next
    assert sub.wait(report.id, timeout=10)
    assert vault.statuses(report.id) == [UPLOADING, PAUSED]  # the worker wrote nothing over it
    assert len(server.puts) == 1  # no run started again


# --- resume requested while winding down -------------------------------------------------------


def test_resume_while_winding_down_runs_after_the_old_worker_never_beside_it(vault, server, make):
    sub = make()
    report = stuck_upload(vault, server, sub, honour_cancel=False)
    sub.pause(report.id)
    sub.resume(report.id)  # the old worker still waits for its answer
    assert vault.get_report(report.id).status is UPLOADING
    assert sub.active() == [report.id]
    assert not sub.wait(report.id, timeout=0.05)
    server.gate.set()
    assert sub.wait(report.id, timeout=10)
    assert vault.statuses(report.id) == [
        UPLOADING,
        PAUSED,
        UPLOADING,
        SUBMITTED,
    ]  # the old worker recorded nothing
    assert server.most_in_flight == 1  # never two requests of one report at once


def test_pause_again_while_winding_down_cancels_the_resume(vault, server, make):
    sub = make()
    report = stuck_upload(vault, server, sub, honour_cancel=False)
    sub.pause(report.id)
    sub.resume(report.id)
    sub.pause(report.id)
    assert vault.get_report(report.id).status is PAUSED
    server.gate.set()
    assert sub.wait(report.id, timeout=10)
    assert vault.statuses(report.id) == [UPLOADING, PAUSED, UPLOADING, PAUSED]
    assert len(server.puts) == 1  # the resume never ran


# --- another process ---------------------------------------------------------------------------


def test_a_resume_in_another_process_takes_over_and_this_worker_records_nothing(
    vault, server, make
):
    sub = make()
    report = stuck_upload(vault, server, sub, honour_cancel=True)
    attempts = vault.get_report(report.id).attempts
    vault.update_report_submission(report.id, attempts=attempts + 1)  # the other's run
    assert sub.wait(report.id, timeout=10)  # this worker let go
    assert vault.statuses(report.id) == [UPLOADING]  # and wrote nothing: the other process holds it
    assert vault.get_report(report.id).status is UPLOADING


def test_a_pause_in_another_process_stops_here_and_is_not_written_again(vault, server, make):
    sub = make()
    events: list[ReportEvent] = []
    sub.subscribe(lambda e: isinstance(e, ReportEvent) and events.append(e))
    report = stuck_upload(vault, server, sub, honour_cancel=True)
    vault.set_status(report.id, PAUSED)  # the other process
    assert sub.wait(report.id, timeout=10)
    assert vault.statuses(report.id) == [UPLOADING, PAUSED]
    wait_for(lambda: events and events[-1].state is PAUSED, 5)


def test_a_delete_in_another_process_stops_the_upload(vault, server, make):
    sub = make()
    report = stuck_upload(vault, server, sub, honour_cancel=True)
    vault.delete_report(report.id)
    assert sub.wait(report.id, timeout=10)
    assert server.files == {}


def test_a_live_upload_taken_for_an_orphan_elsewhere_shows_uploading_again(vault, server, make):
    sub = make()
    report = stuck_upload(vault, server, sub, honour_cancel=True)
    vault.set_status(report.id, INTERRUPTED, reason=STOPPED_DURING_UPLOAD, retryable=True)
    wait_for(lambda: vault.get_report(report.id).status is UPLOADING, 10)
    server.gate.set()
    assert sub.wait(report.id, timeout=10)
    assert vault.statuses(report.id) == [UPLOADING, INTERRUPTED, UPLOADING, SUBMITTED]


def test_an_orphan_of_a_dead_process_is_recorded_interrupted(vault, make):
    report = vault.add_report("orphan", {"a.bin": b"a"})
    vault.set_status(report.id, UPLOADING)
    make()
    found = vault.get_report(report.id)
    assert (found.status, found.reason, found.retryable) == (
        INTERRUPTED,
        STOPPED_DURING_UPLOAD,
        True,
    )


# --- close during upload -------------------------------------------------------------------------


def test_close_during_upload_the_worker_records_interrupted(vault, server, make):
    sub = make(max_parallel_reports=1)
    report = stuck_upload(vault, server, sub, honour_cancel=True)
    waiting = vault.add_report("waiting", {"b.bin": b"b"})
    sub.submit(waiting.id)  # queued behind the first
    sub.close()
    for rid in (report.id, waiting.id):
        found = vault.get_report(rid)
        assert (found.status, found.reason, found.retryable) == (
            INTERRUPTED,
            CLOSED_DURING_UPLOAD,
            True,
        )
        assert vault.statuses(rid) == [UPLOADING, INTERRUPTED]


def test_close_while_a_worker_is_stuck_records_interrupted_and_the_worker_nothing(
    vault, server, make
):
    sub = make()
    report = stuck_upload(vault, server, sub, honour_cancel=False)
    sub.close(timeout=0.1)
    assert vault.get_report(report.id).reason == CLOSED_DURING_UPLOAD
    server.gate.set()
    assert sub.wait(report.id, timeout=10)  # the worker let go
    assert vault.statuses(report.id) == [UPLOADING, INTERRUPTED]


def test_a_closed_submitter_refuses_work(vault, make):
    sub = make()
    sub.close()
    with pytest.raises(RuntimeError, match="closed"):
        sub.submit(vault.add_report("late", {"a.bin": b"a"}).id)


# --- retry scheduling -----------------------------------------------------------------------


def failing(vault, server, sub, *errors: BaseException):
    """Submit a report whose next PUTs raise ``errors``; returns it once the run ended."""
    report = vault.add_report("flaky", {"a.bin": b"a"})
    server.failures.extend(errors)
    sub.submit(report.id)
    assert sub.wait(report.id, timeout=10)
    return report


def test_a_retryable_error_schedules_a_retry_after_the_backoff(vault, server, timers, make):
    sub = make(auto_retry=True, backoff=Backoff(base=2, jitter=0))
    report = failing(vault, server, sub, ConnectionLost("PUT: reset"))
    stopped = vault.get_report(report.id)
    assert (stopped.status, stopped.retryable) == (INTERRUPTED, True)
    assert [t.delay for t in timers.pending] == [2.0]
    timers.fire_pending()
    assert sub.wait(report.id, timeout=10)
    assert vault.get_report(report.id).status is SUBMITTED


def test_the_backoff_grows_and_the_retries_end_after_the_budget(vault, server, timers, make):
    sub = make(auto_retry=True, backoff=Backoff(base=2, jitter=0), max_auto_retries=2)
    errors = [ServerUnavailable("PUT: 503") for _ in range(3)]
    report = failing(vault, server, sub, *errors)
    for _ in range(2):
        timers.fire_pending()
        assert sub.wait(report.id, timeout=10)
    assert [t.delay for t in timers.made] == [2.0, 4.0]
    assert timers.pending == []  # the budget is spent: it waits in the outbox
    assert vault.get_report(report.id).status is INTERRUPTED


def test_retry_after_is_honoured(vault, server, timers, make):
    sub = make(auto_retry=True, backoff=Backoff(base=2, jitter=0))
    failing(vault, server, sub, RateLimited("PUT: 429", retry_after=30))
    assert [t.delay for t in timers.pending] == [30.0]


def test_without_auto_retry_nothing_is_scheduled(vault, server, timers, make):
    sub = make(auto_retry=False)
    failing(vault, server, sub, ConnectionLost("PUT: reset"))
    assert timers.made == []


def test_a_fatal_error_is_never_retried_and_halts_the_batch(vault, server, timers, make):
    sub = make(auto_retry=True, max_parallel_reports=1)
    ids = [vault.add_report(f"r{i}", {"a.bin": b"a"}).id for i in range(3)]
    for rid in ids:
        sub.submit_later(rid)
    server.failures.append(AuthenticationFailed("PUT: 401"))
    sub.submit_outbox()
    assert sub.wait(timeout=10)
    assert timers.made == []
    first, *rest = (vault.get_report(rid) for rid in ids)
    assert (first.status, first.retryable) == (INTERRUPTED, False)
    for r in rest:  # held back once queued, or never dispatched: either way not sent
        assert r.status is Status.QUEUED or (
            (r.status, r.retryable) == (INTERRUPTED, False) and r.reason.startswith("Not sent")
        )
    assert len(server.puts) == 1


def test_pause_cancels_a_pending_retry(vault, server, timers, make):
    sub = make(auto_retry=True)
    report = failing(vault, server, sub, ConnectionLost("PUT: reset"))
    (timer,) = timers.pending
    sub.pause(report.id)
    assert timer.cancelled
    timer.action()  # even a timer that fires anyway starts nothing
    assert sub.wait(report.id, timeout=10)
    assert vault.get_report(report.id).status is PAUSED
