"""The stop token: a threading.Event that remembers why, delete winning over pause."""

from __future__ import annotations

import pytest

from tellakit.engine.control import Stopped, StopReason, StopToken, check


def test_unset_token_lets_work_go_on():
    token = StopToken()
    check(token)
    assert token.reason is None and not token.is_set()


def test_pause_then_delete_reports_delete_and_check_raises_with_the_reason():
    token = StopToken()
    token.stop(StopReason.PAUSE)
    assert token.is_set() and token.reason is StopReason.PAUSE
    token.stop(StopReason.DELETE)
    token.stop(StopReason.PAUSE)  # a later pause does not hide the delete
    with pytest.raises(Stopped) as info:
        check(token)
    assert info.value.reason is StopReason.DELETE


def test_token_wakes_a_waiting_worker():
    token = StopToken()
    token.stop(StopReason.CLOSE)
    assert token.wait(0)  # Event semantics, so nextcloud transfers and backoff waits see it
