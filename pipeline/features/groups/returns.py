"""Returns and momentum: log returns over several horizons, the opening gap and the intrabar move."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from pipeline.features.groups import _last
from pipeline.features.groups._ops import check_windows, log_price
from pipeline.features.registry import BarArrays, feature_group, feature_last_row


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


@feature_last_row("returns")
def returns_last(bars: BarArrays, lags: Sequence[int]) -> dict[str, float]:
    """The last row of :func:`returns` (exact: differences of the same logs)."""
    if not lags:
        raise ValueError("lags must not be empty")
    check_windows(**{f"lag {lag!r}": lag for lag in lags})
    log_close = _last.positive_log(bars.close)
    log_open = _last.positive_log(bars.open)
    out = {f"returns_{lag}": _last.diff(log_close, lag) for lag in lags}
    out["returns_gap"] = float(log_open[-1] - log_close[-2]) if len(bars) > 1 else _last.NAN
    out["returns_intrabar"] = float(log_close[-1] - log_open[-1])
    return out
