"""Shared bar frames for the data-quality tests (real sample data; read once per session)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.stubs import random_walk_bars, sample_bars


@pytest.fixture(scope="session")
def aapl_bars() -> pd.DataFrame:
    """Real daily AAPL bars 2005..2012 from the embedded sample source."""
    return sample_bars("AAPL", "2005-01-01", "2012-12-31")


@pytest.fixture(scope="session")
def aapl_recent() -> pd.DataFrame:
    """Real daily AAPL bars 2008..2012: inside the range the XNYS calendar object covers."""
    return sample_bars("AAPL", "2008-01-01", "2012-12-31")


@pytest.fixture(scope="session")
def hourly_bars() -> pd.DataFrame:
    """Hourly 24/7 random-walk bars (crypto-like), 500 bars."""
    return random_walk_bars(500, freq="1h")
