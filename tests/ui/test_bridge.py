"""The throttled bridge: worker-thread updates coalesce and reach widget traits."""

from __future__ import annotations

import threading

import ipywidgets as w

from tellakit.ui.bridge import Throttle

from .helpers import wait_until


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeTimers:
    """Records scheduled flushes; the test fires them."""

    def __init__(self) -> None:
        self.scheduled: list[tuple[float, object]] = []

    def __call__(self, delay: float, fn: object) -> FakeTimers:
        self.scheduled.append((delay, fn))
        return self

    def cancel(self) -> None:
        self.scheduled.clear()

    def fire(self) -> None:
        _, fn = self.scheduled.pop(0)
        fn()  # type: ignore[operator]


def test_first_update_applies_at_once_later_ones_wait_for_the_interval() -> None:
    clock, timers = FakeClock(), FakeTimers()
    throttle = Throttle(10.0, clock=clock, schedule=timers)
    seen: list[int] = []
    throttle.post("bar", lambda: seen.append(1))
    assert seen == [1] and throttle.flushes == 1
    clock.now = 0.03
    throttle.post("bar", lambda: seen.append(2))
    assert seen == [1]
    assert [round(d, 3) for d, _ in timers.scheduled] == [0.07]


def test_updates_to_one_key_coalesce_and_the_newest_wins() -> None:
    clock, timers = FakeClock(), FakeTimers()
    throttle = Throttle(10.0, clock=clock, schedule=timers)
    bar = w.FloatProgress(max=1000.0)
    throttle.post("bar", lambda: setattr(bar, "value", 1.0))
    for value in range(2, 500):
        throttle.post("bar", lambda v=value: setattr(bar, "value", float(v)))
    assert bar.value == 1.0 and throttle.pending == 1 and len(timers.scheduled) == 1
    clock.now = 0.1
    timers.fire()
    assert bar.value == 499.0
    assert throttle.flushes == 2  # 499 posts, two trait updates


def test_different_keys_apply_together_in_posting_order() -> None:
    clock, timers = FakeClock(), FakeTimers()
    throttle = Throttle(10.0, clock=clock, schedule=timers)
    order: list[str] = []
    throttle.post("warm-up", lambda: None)
    throttle.post("a", lambda: order.append("a1"))
    throttle.post("b", lambda: order.append("b"))
    throttle.post("a", lambda: order.append("a2"))
    clock.now = 0.1
    timers.fire()
    assert order == ["b", "a2"]


def test_a_failing_update_does_not_stop_the_others() -> None:
    throttle = Throttle(10.0)
    seen: list[str] = []

    def broken() -> None:
        raise RuntimeError("widget gone")

    throttle.post("x", broken)
    throttle.post("y", lambda: seen.append("y"))
    throttle.flush()
    assert seen == ["y"]


def test_close_drops_pending_updates_and_ignores_later_posts() -> None:
    clock, timers = FakeClock(), FakeTimers()
    throttle = Throttle(10.0, clock=clock, schedule=timers)
    seen: list[int] = []
    throttle.post("k", lambda: seen.append(1))
    throttle.post("k", lambda: seen.append(2))
    throttle.close()
    throttle.post("k", lambda: seen.append(3))
    throttle.flush()
    assert seen == [1] and timers.scheduled == []


def test_worker_threads_updates_land_on_the_widget_with_the_final_value() -> None:
    throttle = Throttle(10.0)
    bar = w.IntProgress(max=2000)

    def worker() -> None:
        for i in range(2001):
            throttle.post("bar", lambda v=i: setattr(bar, "value", v))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wait_until(lambda: throttle.pending == 0, what="trailing flush")
    assert bar.value == 2000
    assert throttle.flushes < 4002  # coalesced, not one trait change per post
