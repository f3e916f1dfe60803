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

from tellakit.engine import ReportEvent, SettledEvent, Submitter
from tellakit.engine.control import Timing
from tellakit.engine.monitor import STOPPED_DURING_UPLOAD
from tellakit.engine.retry import Backoff
from tellakit.engine.runner import CLOSED_DURING_UPLOAD
from tellakit.engine.scheduler import RetryPolicy
from tellakit.errors import AuthenticationFailed, ConnectionLost, RateLimited, RetryableError
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
        kw.setdefault("clock", timers.clock)
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


# --- retry scheduling (the policy itself: test_retry_policy.py) --------------------------------


def policy(**kw) -> RetryPolicy:
    return RetryPolicy(auto=True, backoff=Backoff(jitter=0), **kw)


def failing(vault, server, sub, *errors: BaseException, files=None):
    """Submit a report whose next PUTs raise ``errors``; returns it once its run ended."""
    report = vault.add_report("flaky", files or {"a.bin": b"a"})
    server.failures.extend(errors)
    sub.submit(report.id)
    assert sub.wait(report.id, timeout=10)
    return report


def test_a_retryable_error_plans_a_retry_and_it_submits(vault, server, timers, make):
    sub = make(retry=policy())
    report = failing(vault, server, sub, RetryableError("PUT: 502 from a proxy"))
    stopped = vault.get_report(report.id)
    assert (stopped.status, stopped.retryable) == (INTERRUPTED, True)
    assert stopped.reason.endswith("[automatic retry: server error; next try in 2 s]")
    assert [t.delay for t in timers.pending] == [2.0]
    assert sub.snapshot(report.id).retry.describe() == "server error; next try in 2 s"
    timers.next()
    assert sub.wait(report.id, timeout=10, until="settled")
    assert vault.get_report(report.id).status is SUBMITTED


def test_progress_reported_by_the_transfer_resets_the_budget(vault, server, timers, make):
    # Two attempts without progress, then one that gets the description and a.bin through
    # and fails on b.bin, then two more without progress: with a budget of 2 retries in a row
    # without progress, only the reset lets the last retry happen.
    sub = make(retry=policy(retries_without_progress=2))
    server.fail_path("description.txt", *[RetryableError("PUT: 502")] * 2)
    server.fail_path("b.bin", *[RetryableError("PUT: 502")] * 3)
    report = vault.add_report("flaky", {"a.bin": b"a", "b.bin": b"b"})
    sub.submit(report.id)
    while sub.wait(report.id, timeout=10) and timers.pending:
        timers.next()
    assert sub.wait(report.id, timeout=10, until="settled")
    assert vault.get_report(report.id).status is SUBMITTED
    # 2 and 4 s across attempts without progress; 1 s after the one that made progress.
    assert [t.delay for t in timers.made] == [2.0, 4.0, 1.0, 2.0, 4.0]


def test_a_spent_budget_ends_the_retrying_with_the_reason_in_the_outbox(
    vault, server, timers, make
):
    sub = make(retry=policy(retries_without_progress=1))
    report = failing(vault, server, sub, *[RetryableError("PUT: 502")] * 2)
    timers.next()
    assert sub.wait(report.id, timeout=10, until="settled")
    stopped = vault.get_report(report.id)
    assert (stopped.status, stopped.retryable) == (INTERRUPTED, True)
    assert stopped.reason.endswith(
        "[automatic retry stopped: 2 attempts in a row made no progress; resume to try again]"
    )
    assert timers.pending == []


def test_retry_after_is_honoured(vault, server, timers, make):
    sub = make(retry=policy())
    failing(vault, server, sub, RateLimited("PUT: 429", retry_after=90))
    assert [t.delay for t in timers.pending] == [90.0]  # beyond the 60 s cap: the server's word


def test_while_the_server_is_down_it_is_probed_and_no_attempt_is_spent(vault, server, timers, make):
    sub = make(retry=policy())
    report = failing(vault, server, sub, *[ConnectionLost("PUT: refused")] * 2)
    timers.next()  # the first retry (2 s) fails too: 4 s now, probed every 2 s meanwhile
    assert sub.wait(report.id, timeout=10)
    puts = len(server.puts)
    server.down = True
    for _ in range(5):
        timers.next()
    assert server.probes == 5 and len(server.puts) == puts  # probed, no attempt spent
    assert sub.snapshot(report.id).retry.waiting_for_server
    server.down = False
    probe = timers.next()  # answered: the attempt starts at once, no timer in between
    assert probe.delay == 2.0
    assert sub.wait(report.id, timeout=10, until="settled")
    assert len(server.puts) == puts + 3  # description, a.bin, manifest.json
    assert vault.get_report(report.id).status is SUBMITTED


def test_without_auto_retry_nothing_is_planned_and_it_settles_at_once(vault, server, timers, make):
    sub = make(auto_retry=False)
    settled: list[SettledEvent] = []
    sub.subscribe(lambda e: isinstance(e, SettledEvent) and settled.append(e))
    report = failing(vault, server, sub, ConnectionLost("PUT: reset"))
    assert timers.made == []
    assert sub.wait(report.id, timeout=10, until="settled")
    wait_for(lambda: settled, 5)
    assert [(e.report_id, e.state, e.stops_batch) for e in settled] == [
        (report.id, INTERRUPTED, False)
    ]
    assert "Connection lost" in settled[0].reason


def test_settled_waits_for_the_planned_retry(vault, server, timers, make):
    sub = make(retry=policy())
    settled: list[SettledEvent] = []
    sub.subscribe(lambda e: isinstance(e, SettledEvent) and settled.append(e))
    report = failing(vault, server, sub, ConnectionLost("PUT: reset"))
    assert sub.wait(report.id, timeout=0)  # idle: nothing runs
    assert not sub.wait(report.id, timeout=0.05, until="settled")  # but a retry is planned
    assert settled == []
    timers.next()
    assert sub.wait(report.id, timeout=10, until="settled")
    wait_for(lambda: settled, 5)
    assert [e.state for e in settled] == [SUBMITTED]


def test_a_fatal_error_is_never_retried_and_halts_the_batch(vault, server, timers, make):
    sub = make(retry=policy(), max_parallel_reports=1)
    settled: list[SettledEvent] = []
    sub.subscribe(lambda e: isinstance(e, SettledEvent) and settled.append(e))
    ids = [vault.add_report(f"r{i}", {"a.bin": b"a"}).id for i in range(3)]
    for rid in ids:
        sub.submit_later(rid)
    server.failures.append(AuthenticationFailed("PUT: 401"))
    sub.submit_outbox()
    assert sub.wait(timeout=10, until="settled")
    assert timers.made == []
    first, *rest = (vault.get_report(rid) for rid in ids)
    assert (first.status, first.retryable) == (INTERRUPTED, False)
    for r in rest:  # held back once queued, or never dispatched: either way not sent
        assert r.status is Status.QUEUED or (
            (r.status, r.retryable) == (INTERRUPTED, False) and r.reason.startswith("Not sent")
        )
    assert len(server.puts) == 1
    wait_for(lambda: any(e.report_id == first.id for e in settled), 5)
    assert [e.stops_batch for e in settled if e.report_id == first.id] == [True]


def test_pause_cancels_a_planned_retry(vault, server, timers, make):
    sub = make(retry=policy())
    report = failing(vault, server, sub, ConnectionLost("PUT: reset"))
    (timer,) = timers.pending
    sub.pause(report.id)
    assert timer.cancelled
    timer.action()  # even a timer that fires anyway starts nothing
    assert sub.wait(report.id, timeout=10, until="settled")
    assert vault.get_report(report.id).status is PAUSED
