"""A server that is down for a while, then back; a login refused mid-upload (development server).

The issue's ten minutes of 503 are scaled down through the policy's durations (probe every
0.5 s instead of 2 s, first wait 0.5 s); the code paths are the production ones.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from engine_helpers import SMALL, random_bytes, report_with_files, wait_for

from tellakit.engine import Backoff, RetryPolicy, SettledEvent, Submitter
from tellakit.reports import Status

pytestmark = pytest.mark.timeout(120)
KiB = 1024
QUICK = RetryPolicy(auto=True, probe_interval=0.5, backoff=Backoff(base=0.5, jitter=0))


@pytest.fixture(autouse=True)
def _fresh_log(connected, devserver):
    devserver.log.clear()  # connecting asked status.php too


def _others(devserver) -> int:
    """Requests other than status.php probes so far."""
    return sum(1 for r in devserver.log if not r.path.endswith("/status.php"))


def _probes(devserver) -> int:
    return sum(1 for r in devserver.log if r.path.endswith("/status.php"))


def test_an_outage_then_recovery_ends_submitted_with_automatic_retry(connected, devserver):
    report = report_with_files(connected, "outage", [("a.bin", random_bytes(300 * KiB, 1))])
    devserver.faults.respond(503, times=0)  # every request, status.php included
    settled: list[SettledEvent] = []
    sub = Submitter(connected, tuning=SMALL, retry=QUICK)
    try:
        sub.subscribe(lambda e: isinstance(e, SettledEvent) and settled.append(e))
        sub.submit(report.id)
        wait_for(lambda: _probes(devserver) >= 2, 30)  # two attempts failed: now probing
        spent = _others(devserver)
        attempts = connected.get_report(report.id).attempts
        wait_for(lambda: _probes(devserver) >= 6, 30)
        assert _others(devserver) == spent  # while down: probes only, no attempt spent
        outlook = sub.snapshot(report.id).retry
        assert outlook is not None and outlook.waiting_for_server
        assert not sub.wait(report.id, timeout=0, until="settled")
        devserver.faults.clear()  # the server is back
        assert sub.wait(report.id, timeout=60, until="settled")
    finally:
        sub.close()
    done = connected.get_report(report.id)
    assert done.status is Status.SUBMITTED
    assert done.attempts == attempts + 1  # started again once, on the first probe answered
    assert [e.state for e in settled] == [Status.SUBMITTED]


def test_with_automatic_retry_off_the_report_waits_in_the_outbox_with_the_reason(
    connected, devserver
):
    report = report_with_files(connected, "outage off", [("a.bin", b"a")])
    devserver.faults.respond(503, times=0)
    sub = Submitter(connected, tuning=SMALL)  # the app's default: the connection says no
    try:
        sub.submit(report.id)
        assert sub.wait(report.id, timeout=30, until="settled")
        assert sub.snapshot(report.id).retry is None
        devserver.faults.clear()
        sent = len(devserver.log)
        assert sub.wait(timeout=0, until="settled")  # nothing planned: nothing more is sent
        assert len(devserver.log) == sent
    finally:
        sub.close()
    stopped = connected.get_report(report.id)
    assert (stopped.status, stopped.retryable) == (Status.INTERRUPTED, True)
    assert "503" in stopped.reason and "automatic retry" not in stopped.reason


def test_the_connection_setting_turns_automatic_retry_on(connected, devserver):
    settings = connected.get_connection()
    connected.delete_connection()
    connected.set_connection(replace(settings, auto_retry=True))
    report = report_with_files(connected, "setting on", [("a.bin", b"a")])
    devserver.faults.respond(503, method="PUT", path=r"a\.bin$")  # once
    fast = RetryPolicy(backoff=Backoff(base=0.2, jitter=0), restart_after_progress=0.2)
    with Submitter(connected, tuning=SMALL, retry=fast) as sub:  # auto=None: the setting
        sub.submit(report.id)
        assert sub.wait(report.id, timeout=30, until="settled")
    assert connected.get_report(report.id).status is Status.SUBMITTED
    assert [r.status for r in devserver.log.filter("PUT", "a.bin")] == [503, 201]


def test_a_refused_login_mid_upload_stops_at_once_whatever_the_policy(connected, devserver):
    data = random_bytes(11 * 1024 * KiB, 2)  # chunked: 5 + 6 MiB
    report = report_with_files(connected, "revoked", [("v.bin", data)])
    devserver.faults.respond(401, method="PUT", path=r"/uploads/.*/00002$", times=0)
    patient = replace(QUICK, retries_without_progress=1000, give_up_after=None)
    with Submitter(connected, tuning=SMALL, retry=patient) as sub:
        sub.submit(report.id)
        assert sub.wait(report.id, timeout=60, until="settled")
        assert sub.snapshot(report.id).retry is None
    stopped = connected.get_report(report.id)
    assert (stopped.status, stopped.retryable) == (Status.INTERRUPTED, False)
    assert "login" in stopped.reason.lower()
    assert [r.status for r in devserver.log if r.status == 401] == [401]  # no retry storm
    assert _probes(devserver) == 0
