"""The retry policy's decisions on a fake clock: no threads, no sleeping, no server.

budget reset on progress, the restart within 2 s after progress, the 60 s cap, Retry-After,
the time-without-progress limit, the probe that starts again within 3 s of the server
answering, fatal errors never retried.
"""

from __future__ import annotations

import pytest
from fakes import FakeTimers

from tellakit.engine.retry import Backoff, classify
from tellakit.engine.scheduler import (
    RetryPolicy,
    RetryScheduler,
    format_duration,
    next_try_after,
    split_retry_note,
)
from tellakit.errors import (
    AuthenticationFailed,
    ConnectionLost,
    NameRejected,
    RateLimited,
    ResourceLocked,
    ServerUnavailable,
)

LOST = classify(ConnectionLost("PUT /x: reset"))  # unreachable: probed while it lasts
LOCKED = classify(ResourceLocked("PUT /x: 423"))  # the server answers: plain waits


class Harness:
    """A scheduler on a fake clock; ``starts`` lists the clock times ``due`` was called."""

    def __init__(self, **policy) -> None:
        self.timers = FakeTimers()
        self.clock = self.timers.clock
        self.starts: list[float] = []
        self.server_up = True
        self.probes: list[float] = []
        policy.setdefault("backoff", Backoff(jitter=0))
        self.scheduler = RetryScheduler(
            lambda rid: self.starts.append(self.clock.now),
            policy=RetryPolicy(auto=True, **policy),
            probe=self._probe,
            timer=self.timers,
            clock=self.clock,
        )

    def _probe(self) -> bool:
        self.probes.append(self.clock.now)
        return self.server_up

    def attempt(self, verdict, *, progress: bool = False, rid: str = "r"):
        """An attempt starts now and ends with ``verdict`` (after a confirmed piece)."""
        self.scheduler.started(rid)
        if progress:
            self.scheduler.progressed(rid)
        plan = self.scheduler.failed(rid, verdict)
        self.scheduler.release(rid)  # the run let go
        return plan

    def waits(self) -> list[float]:
        return [t.delay for t in self.timers.made]


def test_after_an_attempt_with_progress_the_next_starts_within_2_s():
    h = Harness()
    plan = h.attempt(LOST, progress=True)
    assert plan.retrying and h.waits() == [1.0]
    h.timers.advance(1.0)
    assert h.starts == [1001.0]


def test_the_wait_grows_only_across_attempts_without_progress_and_is_capped_at_60_s():
    h = Harness(retries_without_progress=20)
    for _ in range(8):
        h.attempt(LOCKED)
        h.timers.next()
    assert h.waits() == [2, 4, 8, 16, 32, 60, 60, 60]
    h.attempt(LOCKED, progress=True)
    h.attempt(LOCKED)
    assert h.waits()[-2:] == [1.0, 2.0]  # progress: short restart, and the growth starts over


def test_jitter_never_lifts_a_wait_above_the_cap():
    backoff = Backoff(jitter=0.1)
    assert max(backoff.delay(n) for n in range(5, 60)) <= 60.0


def test_the_budget_counts_only_attempts_without_progress():
    h = Harness(retries_without_progress=2)
    assert h.attempt(LOCKED).retrying
    assert h.attempt(LOCKED).retrying
    assert h.attempt(LOCKED, progress=True).retrying  # a confirmed chunk: the budget resets
    assert h.attempt(LOCKED).retrying
    assert h.attempt(LOCKED).retrying
    plan = h.attempt(LOCKED)
    assert not plan.retrying
    assert plan.note == (
        "[automatic retry stopped: 3 attempts in a row made no progress; resume to try again]"
    )
    assert not h.scheduler.pending("r")


def test_a_report_that_progresses_every_time_is_retried_for_as_long_as_it_takes():
    h = Harness(retries_without_progress=2)
    for _ in range(50):  # a link that drops every few MB: each attempt confirms a chunk
        assert h.attempt(LOST, progress=True).retrying
        h.timers.next()
    assert len(h.starts) == 50 and set(h.waits()) == {1.0}


@pytest.mark.parametrize(
    ("error", "wait"),
    [
        (RateLimited("PUT /x: 429", retry_after=90), 90.0),  # above the cap: the server's word
        (RateLimited("PUT /x: 429", retry_after=5), 5.0),  # above the first backoff step
        (RateLimited("PUT /x: 429"), 2.0),
    ],
)
def test_retry_after_is_honoured(error, wait):
    h = Harness()
    h.attempt(classify(error))
    assert h.waits() == [wait]


def test_retry_after_holds_even_when_the_server_answers_a_probe_sooner():
    h = Harness()
    h.server_up = False
    h.attempt(classify(ServerUnavailable("PUT /x: 503", retry_after=30)))
    h.timers.advance(10)  # down: probed every 2 s
    h.server_up = True
    h.timers.advance(19)
    assert h.starts == []
    h.timers.advance(1)
    assert h.starts == [1030.0]


def test_while_the_server_is_unreachable_it_is_probed_and_no_attempt_is_spent():
    h = Harness()
    h.attempt(LOST)
    h.attempt(LOST)  # a 4 s wait: probed at 2 s
    h.server_up = False
    h.timers.advance(10)
    outlook = h.scheduler.outlook("r")
    assert outlook.waiting_for_server and outlook.next_in is None
    assert outlook.describe() == (
        "connection lost 2 times in the last minute; waiting for the server to answer"
    )
    h.timers.advance(590)  # ten minutes down
    assert h.starts == []
    assert len(h.probes) == 300 and h.probes[1] - h.probes[0] == 2.0


def test_the_attempt_starts_within_3_s_of_the_server_answering():
    h = Harness()
    h.attempt(LOST)
    h.attempt(LOST)
    h.server_up = False
    h.timers.advance(100.5)
    back = h.clock.now
    h.server_up = True
    h.timers.advance(3)
    assert len(h.starts) == 1 and h.starts[0] - back <= 3.0


def test_a_server_that_answered_all_along_waits_out_the_planned_delay():
    h = Harness()
    for _ in range(3):
        h.attempt(LOST)  # 8 s: the server answers its probe, the cut was on the way
    h.timers.advance(7.9)
    assert h.starts == [] and len(h.probes) == 1
    h.timers.advance(0.1)
    assert h.starts == [1008.0]


def test_the_time_without_progress_limit_ends_the_retrying_with_a_reason():
    h = Harness(give_up_after=3600)
    h.scheduler.started("r")
    h.scheduler.progressed("r")  # the last confirmed chunk, at 1000 s
    h.attempt(LOST)
    h.attempt(LOST)  # a 4 s wait, probed: the server is down from here on
    h.server_up = False
    h.timers.advance(3599)
    assert h.starts == []
    h.timers.advance(2)  # the limit passed: one last attempt ...
    assert len(h.starts) == 1
    plan = h.attempt(LOST)  # ... whose failure ends it
    assert not plan.retrying
    assert plan.note == "[automatic retry stopped: no progress for 1 h; resume to try again]"
    assert not h.scheduler.pending()


@pytest.mark.parametrize(
    "error",
    [
        AuthenticationFailed("PUT /x: 401"),
        NameRejected("PUT /x: 400", reason="bad name"),
    ],
)
def test_a_fatal_error_is_never_retried_whatever_the_policy(error):
    h = Harness(retries_without_progress=1000, give_up_after=None)
    plan = h.attempt(classify(error), progress=True)
    assert not plan.retrying and plan.note == ""
    assert h.timers.made == [] and not h.scheduler.pending()


def test_auto_none_follows_the_connection_setting():
    setting = {"auto": False}
    timers = FakeTimers()
    scheduler = RetryScheduler(
        lambda rid: None,
        policy=RetryPolicy(),
        auto_default=lambda: setting["auto"],
        timer=timers,
        clock=timers.clock,
    )
    assert not scheduler.failed("r", LOST).retrying
    setting["auto"] = True
    assert scheduler.failed("r", LOST).retrying
    assert scheduler.pending("r") and timers.made == []  # held until the run lets go
    scheduler.release("r")
    assert [t.delay for t in timers.made] == [2.0 * 0.9] or len(timers.made) == 1


def test_a_per_report_policy_wins_over_the_schedulers():
    h = Harness(retries_without_progress=0)
    h.scheduler.prefer("batch", RetryPolicy(auto=True, backoff=Backoff(base=0.5, jitter=0)))
    assert not h.attempt(LOCKED).retrying
    assert h.attempt(LOCKED, rid="batch").retrying
    assert h.waits() == [0.5]


def test_the_outlook_says_when_and_why():
    h = Harness(retries_without_progress=10)
    for _ in range(3):
        h.attempt(LOCKED)
        h.timers.advance(1)
    assert h.scheduler.outlook("r").describe() == (
        "file locked 3 times in the last minute; next try in 7 s"
    )
    h.timers.advance(120)
    h.attempt(LOCKED)
    assert h.scheduler.outlook("r").describe().startswith("file locked; next try in")


def test_cancel_and_forget_drop_the_plan():
    h = Harness()
    h.attempt(LOCKED)
    h.scheduler.cancel("r")
    assert not h.scheduler.pending("r")
    h.timers.advance(100)
    assert h.starts == []
    h.attempt(LOCKED)
    assert h.waits()[-1] == 4.0  # cancel (a resume by hand) keeps the history
    h.scheduler.forget("r")
    h.attempt(LOCKED)
    assert h.waits()[-1] == 2.0  # forget (a pause) does not


def test_the_recorded_note_reads_back():
    reason = "Connection lost: PUT /x: reset [automatic retry: connection lost; next try in 12 s]"
    text, note = split_retry_note(reason)
    assert text == "Connection lost: PUT /x: reset"
    assert note == "automatic retry: connection lost; next try in 12 s"
    assert next_try_after(note) == 12.0
    assert split_retry_note("Paused") == ("Paused", None)
    assert format_duration(3600) == "1 h" and format_duration(90) == "1 min 30 s"
