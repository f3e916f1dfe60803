"""Chunk size thresholds and adaptation toward the target time per chunk."""

from __future__ import annotations

from tellakit.engine.chunking import ChunkSizer, MiB, Tuning


def test_size_grows_on_a_fast_link_but_at_most_doubles_per_step_and_stops_at_max():
    sizer = ChunkSizer(Tuning())
    assert sizer.size == 10 * MiB
    sizer.observe(10 * MiB, 0.1)  # 100 MiB/s
    assert sizer.size == 20 * MiB
    for _ in range(10):
        sizer.observe(sizer.size, 0.1)
    assert sizer.size == Tuning().max_chunk


def test_size_shrinks_on_a_slow_link_but_never_below_minimum():
    sizer = ChunkSizer(Tuning())
    for _ in range(10):
        sizer.observe(sizer.size, 600)
    assert sizer.size == 5 * MiB


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
    assert Tuning().for_server(1 * MiB).max_chunk == 5 * MiB  # never below the minimum


def test_no_tail_chunk_below_minimum_and_sizes_sum_to_total():
    t = Tuning(initial_chunk=10 * MiB)
    sizer = ChunkSizer(t)
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
