"""Task retries: transient failures are retried, permanent ones fail at once (real Prefect engine)."""

from __future__ import annotations

import pytest
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from pipeline.errors import DataQualityError, SourceError, SourceUnavailable, StoreError, StoreUnavailable
from tasks._common import retry_unless_permanent

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]  # the harness costs ~15 s per worker


def attempts_until_done(error: Exception, succeed_on: int) -> tuple[int, bool]:
    calls = []

    @task(retries=2, retry_delay_seconds=0, retry_condition_fn=retry_unless_permanent, cache_policy=NO_CACHE)
    def flaky() -> str:
        calls.append(1)
        if len(calls) < succeed_on:
            raise error
        return "ok"

    @flow
    def wrapper() -> bool:
        try:
            flaky()
        except Exception:  # noqa: BLE001 - the test looks at the count
            return False
        return True

    succeeded = wrapper()
    return len(calls), succeeded


@pytest.mark.parametrize(
    "error",
    [
        SourceError("binance: BTCUSDT 2024-01-01..2024-01-02: HTTP 401"),
        DataQualityError("AAPL 1d: 2 failed"),
        StoreError("binance:BTCUSDT:1h: non-finite close=inf at ts=2024-01-01"),
    ],
    ids=["bad-key", "bad-data", "bad-bar"],
)
def test_retry_when_failure_is_permanent_does_not_retry(error: Exception) -> None:
    assert attempts_until_done(error, succeed_on=3) == (1, False)


@pytest.mark.parametrize(
    "error",
    [
        SourceUnavailable("binance: BTCUSDT: gave up after 5 attempts: HTTP 503"),
        ConnectionResetError("db dropped"),
        StoreUnavailable("binance:BTCUSDT:1h: database unavailable, nothing stored (OperationalError: ...)"),
    ],
    ids=["source-unavailable", "connection-reset", "database-outage"],
)
def test_retry_when_failure_may_pass_retries_until_success(error: Exception) -> None:
    assert attempts_until_done(error, succeed_on=3) == (3, True)
