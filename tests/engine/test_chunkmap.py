"""The chunk map: what a resume trusts (confirmed chunks) and what it asks about (in flight)."""

from __future__ import annotations

import pytest

from tellakit.engine.chunkmap import Chunk, ChunkMap


def test_chunks_confirmed_out_of_order_join_the_prefix_once_the_gap_is_filled():
    m = ChunkMap()
    a, b, c = m.add(5), m.add(7), m.add(3)
    assert (a.number, a.offset, b.number, b.offset, c.number, c.offset) == (1, 0, 2, 5, 3, 12)
    m.confirm(2)
    assert m.confirmed == 7 and m.prefix == 0 and [x.number for x in m.unconfirmed()] == [1, 3]
    m.confirm(1)
    assert (m.prefix, m.next, m.confirmed) == (12, 3, 12)
    assert m.frontier == (15, 4)
    m.confirm(3)
    assert (m.prefix, m.next, m.chunks) == (15, 4, [])


def test_round_trip_through_the_index_text():
    m = ChunkMap(10, 3)
    m.add(4)
    m.add(6)
    m.confirm(4)
    again = ChunkMap.loads(m.dumps())
    assert again == m and again.confirmed == 16


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"prefix": 0}',
        '{"prefix": 0, "next": 1, "chunks": [[2, 0, 5, 0]]}',  # does not follow the prefix
        '{"prefix": 0, "next": 1, "chunks": [[1, 0, 5, 0], [2, 6, 5, 0]]}',  # a hole
        '{"prefix": 0, "next": 1, "chunks": [[1, 0, 0, 0]]}',  # empty chunk
    ],
)
def test_a_damaged_map_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="chunk map"):
        ChunkMap.loads(text)


def test_unconfirmed_chunks_after_the_last_confirmed_one_can_be_planned_again():
    m = ChunkMap()
    for size in (5, 5, 5, 5):
        m.add(size)
    m.confirm(2)
    assert m.drop_tail() == [Chunk(3, 10, 5), Chunk(4, 15, 5)]
    # Chunk 1 stays: chunk 2 after it is confirmed, so it goes again with its recorded size.
    assert [c.number for c in m.unconfirmed()] == [1] and m.frontier == (10, 3)
