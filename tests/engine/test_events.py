"""The progress bus: throttling of byte updates, state changes always delivered."""

from __future__ import annotations

from tellakit.engine.events import EventBus, FileEvent, ProgressEvent, ReportEvent, SpeedMeter
from tellakit.reports import FileState, Status


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def event(
    sent: int,
    state: Status = Status.UPLOADING,
    file_state: FileState = FileState.UPLOADING,
    rid: str = "r1",
) -> FileEvent:
    return FileEvent(
        report_id=rid,
        state=state,
        attachment_id="a1",
        name="f.bin",
        bytes_sent=sent,
        total=100,
        file_state=file_state,
    )


def listening() -> tuple[FakeClock, EventBus, list[ProgressEvent]]:
    """A bus of at most 10 byte updates a second on a fake clock, and what it delivered."""
    clock = FakeClock()
    bus = EventBus(max_rate=10, clock=clock)
    got: list[ProgressEvent] = []
    bus.subscribe(got.append)
    return clock, bus, got


def test_byte_updates_are_throttled_to_max_rate_per_report():
    clock, bus, got = listening()
    for i in range(100):  # 100 updates within one second
        clock.t = i / 100
        bus.publish(event(i))
    assert 9 <= len(got) <= 11


def test_state_changes_always_pass_the_throttle():
    _clock, bus, got = listening()
    bus.publish(event(1))
    bus.publish(event(2, state=Status.PAUSED))
    bus.publish(event(3, state=Status.UPLOADING))
    bus.publish(event(4, file_state=FileState.UPLOADED))
    assert [e.bytes_sent for e in got if isinstance(e, FileEvent)] == [1, 2, 3, 4]


def test_report_events_always_pass_the_throttle():
    _clock, bus, got = listening()
    bus.publish(event(1))
    for _ in range(3):  # the same state recorded again (e.g. the start of each run)
        bus.publish(ReportEvent(report_id="r1", state=Status.UPLOADING, title="t"))
    assert [type(e) for e in got] == [FileEvent, ReportEvent, ReportEvent, ReportEvent]


def test_reports_are_throttled_independently():
    _clock, bus, got = listening()
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
    bus.publish(event(2, state=Status.PAUSED))
    assert [e.report_id for e in got] == ["r1"]


def test_events_carry_enum_states_not_strings():
    e = event(1)
    assert e.state is Status.UPLOADING and e.file_state is FileState.UPLOADING
    assert isinstance(e, ProgressEvent) and not isinstance(e, ReportEvent)


def test_speed_meter_converges_to_steady_rate():
    clock = FakeClock()
    meter = SpeedMeter(half_life=1.0, clock=clock)
    meter.add(0)
    for _ in range(50):
        clock.t += 0.1
        meter.add(100_000)  # 1 MB/s
    assert abs(meter.rate - 1_000_000) / 1_000_000 < 0.01
