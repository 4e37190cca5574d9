"""Returns and momentum: log returns over several horizons, the opening gap and the intrabar move."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from pipeline.features.groups._ops import check_windows, log_price
from pipeline.features.registry import feature_group


@feature_group("returns", warmup=lambda p: max(p["lags"]))
def returns(bars: pd.DataFrame, lags: Sequence[int] = (1, 2, 5, 10, 20)) -> pd.DataFrame:
    """Compute log returns of the close over each lag, the gap and the intrabar return.

    Columns: ``returns_<lag>`` (log close-to-close over ``lag`` bars), ``returns_gap`` (log open over the
    previous close) and ``returns_intrabar`` (log close over open).
    """
    if not lags:
        raise ValueError("lags must not be empty")
    check_windows(**{f"lag {lag!r}": lag for lag in lags})
    log_close = log_price(bars["close"])
    log_open = log_price(bars["open"])
    out = {f"returns_{lag}": log_close.diff(lag) for lag in lags}
    out["returns_gap"] = log_open - log_close.shift(1)
    out["returns_intrabar"] = log_close - log_open
    return pd.DataFrame(out, index=bars.index)
