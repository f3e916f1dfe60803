"""Chunk size thresholds, adaptation toward the target time per chunk, and the planner that
also follows the link's window (how many bytes may be in flight after drops)."""

from __future__ import annotations

from dataclasses import dataclass

from tellakit.engine.chunking import (
    V2_MIN_CHUNK,
    ChunkPlanner,
    ChunkSizer,
    KiB,
    MiB,
    Plan,
    Tuning,
    preferred_protocol,
)


def test_size_grows_on_a_fast_link_but_at_most_doubles_per_step_and_stops_at_max():
    sizer = ChunkSizer(Tuning())
    assert sizer.size == 10 * MiB
    sizer.observe(10 * MiB, 0.1)  # 100 MiB/s
    assert sizer.size == 20 * MiB
    for _ in range(10):
        sizer.observe(sizer.size, 0.1)
    assert sizer.size == Tuning().max_chunk


def test_size_shrinks_on_a_slow_link_but_never_below_the_floor():
    v2 = ChunkSizer(Tuning(), floor=V2_MIN_CHUNK)
    v1 = ChunkSizer(Tuning())
    for _ in range(10):
        v2.observe(v2.size, 600)
        v1.observe(v1.size, 600)
    assert v2.size == 5 * MiB  # chunking v2's smallest chunk
    assert v1.size == 256 * KiB  # chunking v1 goes down to min_chunk


def test_size_settles_near_target_seconds():
    t = Tuning(target_seconds=45)
    sizer = ChunkSizer(t)
    speed = 1 * MiB  # 1 MiB/s: 45 MiB per chunk
    for _ in range(10):
        sizer.observe(sizer.size, sizer.size / speed)
    assert abs(sizer.size - 45 * MiB) <= 1


def test_server_max_size_caps_the_chunk():
    t = Tuning().for_server(20 * MiB)
    assert t.max_chunk == 20 * MiB
    assert Tuning().for_server(100 * KiB).max_chunk == 256 * KiB  # never below the minimum
    tiny = Tuning().for_server(1 * MiB)  # chunks below v2's floor: the upload speaks v1
    assert tiny.max_chunk == 1 * MiB and preferred_protocol(tiny, None) == 1


def test_no_tail_chunk_below_minimum_and_sizes_sum_to_total():
    t = Tuning(initial_chunk=10 * MiB)
    sizer = ChunkSizer(t, floor=V2_MIN_CHUNK)
    total = 10 * MiB + 3 * MiB  # a 3 MiB tail would be below 5 MiB: folded in
    assert sizer.next_size(0, total, 1) == total
    offset, n, sizes = 0, 1, []
    total = 47 * MiB + 123
    while offset < total:
        size = sizer.next_size(offset, total, n)
        sizes.append(size)
        offset += size
        n += 1
    assert sum(sizes) == total
    assert all(s >= 5 * MiB for s in sizes)


def test_never_needs_more_than_max_chunks():
    t = Tuning(initial_chunk=5 * MiB, max_chunks=10)
    sizer = ChunkSizer(t)
    total = 200 * MiB
    offset, n = 0, 1
    while offset < total:
        offset += sizer.next_size(offset, total, n)
        n += 1
    assert n - 1 <= 10


def test_small_files_go_in_one_put():
    t = Tuning()
    assert not t.use_chunks(10 * MiB - 1)
    assert t.use_chunks(10 * MiB)


@dataclass
class FixedWindow:
    bytes: float | None
    reach: float | None = None  # bytes between drops (None: never dropped)

    def window(self) -> float | None:
        return self.bytes

    def carries(self, nbytes: int) -> bool:
        return self.reach is None or nbytes <= self.reach / 16


def test_without_a_drop_the_time_target_sizes_chunks_and_the_server_limits_parallel():
    planner = ChunkPlanner(Tuning(), link=FixedWindow(None), protocol=2, parallel=5)
    assert planner.plan() == Plan(10 * MiB, 3, stagger=True)  # under the server's 5
    assert ChunkPlanner(Tuning(), link=None, protocol=2, parallel=1).plan().in_flight == 1


def test_bodies_go_side_by_side_only_when_asked_and_the_window_holds_them():
    wide = FixedWindow(1000 * MiB)
    side = Tuning(side_by_side=True)
    assert ChunkPlanner(side, link=wide, protocol=2, parallel=5).plan() == Plan(10 * MiB, 3)
    assert ChunkPlanner(Tuning(), link=wide, protocol=2, parallel=5).plan().stagger
    narrow = ChunkPlanner(side, link=FixedWindow(2 * MiB), protocol=1, parallel=5).plan()
    assert narrow.stagger  # a link that drops: one body at a time all the same


def test_when_the_link_limits_one_chunk_of_the_window_crosses_at_a_time():
    planner = ChunkPlanner(Tuning(), link=FixedWindow(2 * MiB), protocol=1, parallel=5)
    assert planner.plan() == Plan(2 * MiB, 2, stagger=True)  # next request while one answers
    tiny = ChunkPlanner(Tuning(), link=FixedWindow(100 * KiB), protocol=1, parallel=5).plan()
    assert tiny.size == 256 * KiB  # never below the floor
    v2 = ChunkPlanner(Tuning(), link=FixedWindow(3 * MiB), protocol=2, parallel=5).plan()
    assert v2.size == 5 * MiB and v2.stagger  # v2 keeps its 5 MiB floor
    alone = ChunkPlanner(Tuning(), link=FixedWindow(2 * MiB), protocol=1, parallel=1).plan()
    assert alone.in_flight == 1  # what the server allows


def test_link_following_can_be_turned_off():
    fixed = Tuning(follow_link=False)
    planner = ChunkPlanner(fixed, link=FixedWindow(1 * MiB, 1 * MiB), protocol=2, parallel=2)
    assert planner.plan() == Plan(10 * MiB, 2, stagger=True)
    assert preferred_protocol(fixed, FixedWindow(1 * MiB, 1 * MiB)) == 2


def test_new_uploads_speak_v1_only_when_the_link_does_not_carry_5_mib_chunks():
    assert preferred_protocol(Tuning(), None) == 2
    assert preferred_protocol(Tuning(), FixedWindow(None)) == 2
    assert preferred_protocol(Tuning(), FixedWindow(2 * MiB, 80 * MiB)) == 2
    assert preferred_protocol(Tuning(), FixedWindow(2 * MiB, 79 * MiB)) == 1
    # A tuning whose smallest chunk is v2's always speaks v2.
    assert preferred_protocol(Tuning(min_chunk=5 * MiB), FixedWindow(1 * MiB, MiB)) == 2
