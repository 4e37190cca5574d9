"""Pytest fixtures that start the fake services and point quantgate's sources at them."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from tests.fakes.services import AlpacaFake, BinanceFake, CoinGeckoFake, GeckoTerminalFake, PolygonFake
from tests.stubs import random_walk_bars

KEY_VARIABLES = (
    "POLYGON_API_KEY",
    "BINANCE_API_KEY",
    "BINANCE_API_SECRET",
    "APCA_API_KEY_ID",
    "APCA_API_SECRET_KEY",
    "COINGECKO_API_KEY",
)


def hourly_crypto(start: str = "2024-01-01", n: int = 24 * 20, seed: int = 11, price: float = 42000.0) -> pd.DataFrame:
    """A deterministic hourly crypto series (seeded random walk, tests.stubs)."""
    return random_walk_bars(n, start=start, freq="1h", seed=seed, price=price)


def punch(frame: pd.DataFrame, *windows: tuple[str, str]) -> pd.DataFrame:
    """``frame`` without the bars inside each inclusive ``(start, end)`` window."""
    keep = pd.Series(True, index=frame.index)
    for lo, hi in windows:
        keep &= ~((frame.index >= pd.Timestamp(lo, tz="UTC")) & (frame.index <= pd.Timestamp(hi, tz="UTC")))
    return frame.loc[keep.to_numpy()]


@pytest.fixture
def net_env(monkeypatch: pytest.MonkeyPatch, qg_home) -> None:
    """Short timeouts and backoff, no keys from the developer's shell, an isolated quantgate home."""
    for name in KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QUANTGATE_HTTP_TIMEOUT", "0.5")
    monkeypatch.setenv("QUANTGATE_RETRY_ATTEMPTS", "4")
    monkeypatch.setenv("QUANTGATE_RETRY_WAIT_MAX", "0.05")
    monkeypatch.setenv("QUANTGATE_RETRY_AFTER_MAX", "1")


def _serve(fake, variable: str, monkeypatch: pytest.MonkeyPatch):
    fake.start()
    monkeypatch.setenv(variable, fake.url)
    return fake


@pytest.fixture
def binance_fake(net_env, monkeypatch: pytest.MonkeyPatch) -> Iterator[BinanceFake]:
    """A Binance fake at ``QUANTGATE_BINANCE_URL``."""
    fake = _serve(BinanceFake(), "QUANTGATE_BINANCE_URL", monkeypatch)
    yield fake
    fake.stop()


@pytest.fixture
def polygon_fake(net_env, monkeypatch: pytest.MonkeyPatch) -> Iterator[PolygonFake]:
    """A Polygon fake at ``QUANTGATE_POLYGON_URL`` with ``POLYGON_API_KEY`` set to its key."""
    fake = _serve(PolygonFake(), "QUANTGATE_POLYGON_URL", monkeypatch)
    monkeypatch.setenv("POLYGON_API_KEY", fake.api_key)
    yield fake
    fake.stop()


@pytest.fixture
def alpaca_fake(net_env, monkeypatch: pytest.MonkeyPatch) -> Iterator[AlpacaFake]:
    """An Alpaca data fake at ``QUANTGATE_ALPACA_DATA_URL`` with its keys set."""
    fake = _serve(AlpacaFake(), "QUANTGATE_ALPACA_DATA_URL", monkeypatch)
    monkeypatch.setenv("APCA_API_KEY_ID", fake.key_id)
    monkeypatch.setenv("APCA_API_SECRET_KEY", fake.secret)
    yield fake
    fake.stop()


@pytest.fixture
def coingecko_fake(net_env, monkeypatch: pytest.MonkeyPatch) -> Iterator[CoinGeckoFake]:
    """A CoinGecko fake at ``QUANTGATE_COINGECKO_URL``."""
    fake = _serve(CoinGeckoFake(), "QUANTGATE_COINGECKO_URL", monkeypatch)
    yield fake
    fake.stop()


@pytest.fixture
def geckoterminal_fake(net_env, monkeypatch: pytest.MonkeyPatch) -> Iterator[GeckoTerminalFake]:
    """A GeckoTerminal fake at ``QUANTGATE_GECKOTERMINAL_URL``."""
    fake = _serve(GeckoTerminalFake(), "QUANTGATE_GECKOTERMINAL_URL", monkeypatch)
    yield fake
    fake.stop()


@pytest.fixture
def short_deadlines(net_env, monkeypatch: pytest.MonkeyPatch) -> None:
    """One-second requests, two attempts, a ten-second fetch."""
    monkeypatch.setenv("QUANTGATE_REQUEST_DEADLINE", "1")
    monkeypatch.setenv("QUANTGATE_HTTP_TIMEOUT", "30")  # longer than a trickle's gaps: only the deadline can stop it
    monkeypatch.setenv("QUANTGATE_RETRY_ATTEMPTS", "2")
    monkeypatch.setenv("QUANTGATE_FETCH_DEADLINE", "10")
