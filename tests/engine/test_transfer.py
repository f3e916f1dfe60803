"""Which chunks a resumed upload keeps: the confirmed ones plus at most one whole in-flight one."""

from __future__ import annotations

from tellakit.engine.transfer import ResumePoint, resume_point

M = 1 << 20


def test_keeps_confirmed_chunks_and_resends_a_partial_in_flight_chunk():
    received = [("00001", 10 * M), ("00002", 10 * M), ("00003", 3 * M)]
    point = resume_point(received, confirmed=20 * M, in_flight=10 * M, total=50 * M)
    assert point == ResumePoint(20 * M, 3)


def test_keeps_a_whole_in_flight_chunk_whose_confirmation_was_lost():
    received = [("00001", 10 * M), ("00002", 10 * M), ("00003", 10 * M)]
    point = resume_point(received, confirmed=20 * M, in_flight=10 * M, total=50 * M)
    assert point == ResumePoint(30 * M, 4)


def test_keeps_at_most_one_unconfirmed_chunk():
    received = [("00001", 10 * M), ("00002", 10 * M), ("00003", 10 * M)]
    point = resume_point(received, confirmed=10 * M, in_flight=10 * M, total=50 * M)
    assert point == ResumePoint(20 * M, 3)


def test_last_chunk_of_the_file_counts_as_whole():
    received = [("00001", 10 * M), ("00002", 7 * M)]
    point = resume_point(received, confirmed=10 * M, in_flight=None, total=17 * M)
    assert point == ResumePoint(17 * M, 3)


def test_gap_or_junk_stops_the_kept_run_and_server_truth_wins_over_the_index():
    received = [("00001", 10 * M), (".file", 30 * M), ("00003", 10 * M)]
    assert resume_point(received, confirmed=30 * M, in_flight=10 * M, total=50 * M) == (
        ResumePoint(10 * M, 2)
    )
    assert resume_point([], confirmed=30 * M, in_flight=10 * M, total=50 * M) == ResumePoint(0, 1)
