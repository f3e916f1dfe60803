"""The progress bus: throttling of byte updates, state changes always delivered."""

from __future__ import annotations

from tellakit.engine.events import EventBus, ProgressEvent, SpeedMeter


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def event(sent: int, state: str = "uploading", file_state: str | None = "uploading", rid="r1"):
    return ProgressEvent(rid, "a1", "f.bin", sent, 100, 0.0, state, file_state=file_state)


def test_byte_updates_are_throttled_to_max_rate_per_report():
    clock = FakeClock()
    bus = EventBus(max_rate=10, clock=clock)
    got: list[ProgressEvent] = []
    bus.subscribe(got.append)
    for i in range(100):  # 100 updates within one second
        clock.t = i / 100
        bus.publish(event(i))
    assert 9 <= len(got) <= 11


def test_state_changes_always_pass_the_throttle():
    clock = FakeClock()
    bus = EventBus(max_rate=10, clock=clock)
    got: list[ProgressEvent] = []
    bus.subscribe(got.append)
    bus.publish(event(1))
    bus.publish(event(2, state="paused"))
    bus.publish(event(3, state="uploading"))
    bus.publish(event(4, file_state="uploaded"))
    assert [e.bytes_sent for e in got] == [1, 2, 3, 4]


def test_reports_are_throttled_independently():
    clock = FakeClock()
    bus = EventBus(max_rate=10, clock=clock)
    got: list[ProgressEvent] = []
    bus.subscribe(got.append)
    bus.publish(event(1, rid="r1"))
    bus.publish(event(1, rid="r2"))
    assert {e.report_id for e in got} == {"r1", "r2"}


def test_unsubscribe_stops_delivery_and_a_raising_listener_does_not_break_others():
    bus = EventBus(max_rate=0)
    got: list[ProgressEvent] = []

    def broken(_e: ProgressEvent) -> None:
        raise RuntimeError("view gone")

    bus.subscribe(broken)
    off = bus.subscribe(got.append)
    bus.publish(event(1))
    off()
    off()  # twice is fine
    bus.publish(event(2, state="paused"))
    assert [e.bytes_sent for e in got] == [1]


def test_speed_meter_converges_to_steady_rate():
    clock = FakeClock()
    meter = SpeedMeter(half_life=1.0, clock=clock)
    meter.add(0)
    for _ in range(50):
        clock.t += 0.1
        meter.add(100_000)  # 1 MB/s
    assert abs(meter.rate - 1_000_000) / 1_000_000 < 0.01
