"""Formatting helpers and the passphrase strength hint."""

from __future__ import annotations

from datetime import datetime, timezone

from tellakit.ui.fmt import esc, human_date, human_size, human_speed, percent, strength_hint


def test_sizes_use_powers_of_1000_with_one_decimal() -> None:
    assert human_size(0) == "0 B"
    assert human_size(999) == "999 B"
    assert human_size(1536) == "1.5 KB"
    assert human_size(10_000_000) == "10.0 MB"
    assert human_speed(2_300_000) == "2.3 MB/s"
    assert human_speed(0) == ""


def test_percent_is_clamped_and_full_for_empty_totals() -> None:
    assert percent(50, 200) == 25.0
    assert percent(300, 200) == 100.0
    assert percent(0, 0) == 100.0


def test_dates_render_in_local_time_and_none_is_blank() -> None:
    moment = datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc)
    assert human_date(moment) == moment.astimezone().strftime("%Y-%m-%d %H:%M")
    assert human_date(None) == ""


def test_user_text_is_escaped_for_html() -> None:
    assert esc('<img src=x onerror="a">') == "&lt;img src=x onerror=&quot;a&quot;&gt;"


def test_strength_hint_grows_with_length_and_variety() -> None:
    levels = ["empty", "weak", "fair", "strong"]
    samples = ["", "abc", "aaaaaaaaaaaaaaaaaaaa", "Summer2026!", "tangerine orbit velvet quarry"]
    ranks = [levels.index(strength_hint(s)[0]) for s in samples]
    assert ranks[0] == 0
    assert ranks[1] == 1 and ranks[2] == 1  # repeats do not count as length
    assert ranks[3] < ranks[4] == 3
