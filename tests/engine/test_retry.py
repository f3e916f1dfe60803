"""Retryable vs fatal, reasons without secrets, exponential backoff honouring Retry-After."""

from __future__ import annotations

import random

import pytest

from tellakit.engine.retry import Backoff, classify
from tellakit.errors import (
    AuthenticationFailed,
    ConnectionLost,
    NameRejected,
    QuotaExceeded,
    RateLimited,
    ResourceLocked,
    ServerUnavailable,
    UploadExpired,
    VaultCorrupted,
    VerificationFailed,
)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionLost("PUT /x: dropped"),
        ServerUnavailable("PUT /x: 503"),
        ResourceLocked("PUT /x: 423"),
        RateLimited("PUT /x: 429", retry_after=7),
        UploadExpired("PUT /x: gone"),
    ],
)
def test_retryable_errors(error):
    verdict = classify(error)
    assert verdict.retryable
    assert not verdict.stops_batch
    assert str(error) in verdict.reason


@pytest.mark.parametrize(
    ("error", "stops_batch"),
    [
        (AuthenticationFailed("401"), True),
        (QuotaExceeded("507"), True),
        (NameRejected("400"), False),
        (VerificationFailed("sha"), False),
        (VaultCorrupted("tampered"), False),
    ],
)
def test_fatal_errors(error, stops_batch):
    verdict = classify(error)
    assert not verdict.retryable
    assert verdict.stops_batch is stops_batch


def test_rate_limit_carries_retry_after():
    assert classify(RateLimited("x", retry_after=42)).retry_after == 42


def test_unknown_error_reason_names_only_the_type():
    verdict = classify(ValueError("password=hunter2"))
    assert "hunter2" not in verdict.reason
    assert not verdict.retryable


def test_backoff_grows_exponentially_up_to_cap():
    b = Backoff(base=2, factor=2, cap=60, jitter=0)
    assert [b.delay(i) for i in range(7)] == [2, 4, 8, 16, 32, 60, 60]


def test_backoff_honours_retry_after_and_jitter_stays_bounded():
    b = Backoff(base=2, factor=2, cap=60, jitter=0.1)
    assert b.delay(0, retry_after=120) == 120
    rng = random.Random(1)
    for i in range(20):
        assert 0.9 * min(60, 2 * 2**i) <= b.delay(i, rng=rng) <= 1.1 * min(60, 2 * 2**i)
