"""The link model: bytes between drops, the window of bytes in flight, and its record in the
vault (no HTTP, a fake clock)."""

from __future__ import annotations

import math

import pytest
from fakes import FakeClock, FakeVault

from tellakit.engine.link import UNKNOWN_WINDOW, LinkBook, LinkModel
from tellakit.vault.models import LinkStats

MB = 1_000_000


def test_a_link_never_seen_dropping_starts_with_a_small_window_that_grows_with_the_streak():
    link = LinkModel("https://cloud.example.org")
    began = link.begin()
    assert began is not None and link.window() == UNKNOWN_WINDOW
    link.delivered(100 * MB)
    assert link.window() == 50 * MB  # half the streak


def test_after_a_drop_the_window_balances_what_a_drop_loses_and_what_requests_cost():
    clock = FakeClock()
    link = LinkModel("u", share=1 / 16, request_cost=32 * 1024, clock=clock)
    began = link.begin()
    link.delivered(6 * MB)
    clock.now += 1
    link.dropped(2 * MB, began)  # 6 MB confirmed + 2 MB of lost requests got through
    assert link.stats.between_drops == 8 * MB and link.stats.streak == 0
    assert link.window() == pytest.approx(math.sqrt(2 * 32 * 1024 * 8 * MB))  # ~0.72 MB
    assert link.carries(int(8 * MB / 16)) and not link.carries(int(8 * MB / 16) + 1)
    # A second drop after 4 MB: smoothed toward it.
    clock.now += 1
    began = link.begin()
    link.delivered(4 * MB)
    clock.now += 1
    link.dropped(0, began)
    assert link.stats.between_drops == pytest.approx(0.7 * 8 * MB + 0.3 * 4 * MB)
    assert link.stats.drops == 2


def test_a_link_that_holds_longer_than_it_used_to_is_believed_at_once():
    link = LinkModel("u", share=1 / 16)
    link.dropped(2 * MB, link.begin())
    small = link.window()
    assert not link.carries(5 * 1024 * 1024)
    link.delivered(160 * MB)
    assert link.window() == pytest.approx(math.sqrt(2 * 32 * 1024 * 160 * MB))  # the streak
    assert link.window() > small and link.carries(5 * 1024 * 1024)


def test_one_drop_seen_by_two_transfers_counts_once():
    clock = FakeClock()
    link = LinkModel("u", clock=clock)
    first, second = link.begin(), link.begin()
    assert link.window() == UNKNOWN_WINDOW / 2  # two transfers share the link
    link.delivered(5 * MB)
    clock.now += 0.5
    link.dropped(1 * MB, first)
    clock.now += 0.1
    link.dropped(3 * MB, second)  # began before that drop: the same drop
    assert link.stats.drops == 1 and link.stats.between_drops == 6 * MB
    link.end()
    link.end()
    third = link.begin()
    clock.now += 2
    link.dropped(0, third)  # a new attempt's drop is a new drop
    assert link.stats.drops == 2


def test_the_record_is_kept_so_a_new_process_starts_from_it():
    vault = FakeVault()
    book = LinkBook(vault)
    link = book.link("https://cloud.example.org/")
    assert book.link("https://cloud.example.org") is link  # one model per server
    link.delivered(3 * MB, rate=2 * MB)
    link.dropped(1 * MB, link.begin())  # a drop is written at once
    link.end()
    stored = vault.get_link_stats("https://cloud.example.org")
    assert stored is not None and stored.between_drops == 4 * MB and stored.drops == 1
    assert stored.throughput == 2 * MB
    again = LinkBook(vault).link("https://cloud.example.org")
    assert again.stats == stored and again.window() == link.window()


def test_a_vault_that_cannot_be_written_does_not_stop_the_upload():
    from tellakit.errors import VaultLocked

    class Locked(FakeVault):
        def set_link_stats(self, server_url: str, stats: LinkStats) -> None:
            raise VaultLocked("locked")

    link = LinkModel("u", Locked())
    link.dropped(1 * MB, link.begin())  # logged, not raised
    assert link.stats.drops == 1


def test_a_v2_upload_is_restarted_in_v1_only_when_resending_its_confirmed_part_costs_less():
    five_mib = 5 * 1024 * 1024
    link = LinkModel("u")
    assert not link.restart_pays(10 * MB, 290 * MB, five_mib)  # no drop seen: nothing known
    link.dropped(8 * MB, link.begin())  # ~8 MB between drops: 5 MiB chunks lose ~40 %
    assert link.restart_pays(10 * MB, 290 * MB, five_mib)
    assert not link.restart_pays(200 * MB, 100 * MB, five_mib)  # most of it is confirmed
    link = LinkModel("u")
    link.dropped(40 * MB, link.begin())  # ~40 MB: 5 MiB chunks lose ~7 %, the window ~2 %
    assert not link.restart_pays(20 * MB, 280 * MB, five_mib)
    assert link.restart_pays(5 * MB, 280 * MB, five_mib)
