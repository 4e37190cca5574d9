"""Per-bar quality verdicts: which stored bars of a series passed the suite, so a reader checks a verdict.

Wherever the suite passes a window of a series (the experiment's quality stage through
:func:`pipeline.quality.cache.validate_bars_cached` with ``symbol``, the trading cycle through
:func:`check_window`), every bar of it is recorded with a hash of its open time and values. A later reader
of a window (the trading cycle) then only compares its bars' hashes with the stored ones: a window whose
bars all passed, unchanged, is not validated again; new bars are validated with :data:`CONTEXT_BARS` bars
before them (the jump check's centred window is 50), and a window with a changed, missing or never-checked
bar before its last passed one is validated whole.

The collect flow records verdicts as it ingests (:func:`check_ingested`), so the first cycle after a
collect finds its new bars already checked.

Verdicts are kept per series (symbol, timeframe, asset class) under
``$QUANTGATE_HOME/cache/quality/verdicts/``, keyed like :mod:`pipeline.quality.cache` by the suite
document, the Great Expectations version and the code of :mod:`pipeline.quality`, so a changed suite or
check starts from nothing. Only passed bars are recorded; a lost or unreadable file means validating again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.bars import OHLCV_COLUMNS
from pipeline.quality.cache import cache_dir, quality_code_version
from pipeline.quality.report import raise_for_failure
from pipeline.quality.suites import default_suite_name, read_suite_dict
from pipeline.store import BarStore
from pipeline.timeframes import AssetClass, bar_length

#: Bars before the first unchecked bar that are validated again with it.
CONTEXT_BARS = 100


def fingerprint(bars: pd.DataFrame) -> pd.Series:
    """One hash per bar of its open time and OHLCV values (index: the bar's open time)."""
    return pd.util.hash_pandas_object(bars[list(OHLCV_COLUMNS)], index=True)


def verdict_path(symbol: str, timeframe: str, asset_class: AssetClass) -> Path:
    """The verdict file of one series under the current suite and code."""
    document = read_suite_dict(default_suite_name(asset_class))
    key = json.dumps([symbol, timeframe, asset_class, document, quality_code_version()], sort_keys=True, default=str)
    return cache_dir() / "verdicts" / f"{hashlib.sha256(key.encode()).hexdigest()}.npz"


def passed_bars(symbol: str, timeframe: str, asset_class: AssetClass) -> pd.Series | None:
    """Hashes of the bars that passed (index: open time), or None when nothing is recorded."""
    try:
        with np.load(verdict_path(symbol, timeframe, asset_class)) as stored:
            ts, hashes = stored["ts"], stored["hash"]
    except (OSError, ValueError, KeyError):
        return None
    return pd.Series(hashes, index=pd.DatetimeIndex(ts.astype("datetime64[ns]"), tz="UTC"))


def record_passed(symbol: str, timeframe: str, asset_class: AssetClass, bars: pd.DataFrame) -> None:
    """Record every bar of ``bars`` (a window that passed the suite) as passed, replacing older verdicts
    of its time range; written atomically (a concurrent writer may win: its bars are then checked again)."""
    if bars.empty:
        return
    new = fingerprint(bars)
    old = passed_bars(symbol, timeframe, asset_class)
    if old is not None:
        outside = (old.index < new.index[0]) | (old.index > new.index[-1])
        new = pd.concat([old[outside], new]).sort_index()
    path = verdict_path(symbol, timeframe, asset_class)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    ts = new.index.tz_convert("UTC").tz_localize(None).to_numpy(dtype="datetime64[ns]").astype("int64")
    np.savez(partial, ts=ts, hash=new.to_numpy(dtype="uint64"))
    partial.replace(path)


def unchecked_part(bars: pd.DataFrame, passed: pd.Series | None) -> pd.DataFrame | None:
    """The part of ``bars`` the suite must still see (None: every bar passed, unchanged).

    Bars after the last passed one are returned with :data:`CONTEXT_BARS` of context; the whole window
    when a bar up to the last passed one changed, is missing, or was never checked.
    """
    if bars.empty or passed is None or passed.empty or bars.index[0] < passed.index[0]:
        return bars
    inside = passed.loc[bars.index[0] : bars.index[-1]]
    if inside.empty:
        return bars
    position = bars.index.searchsorted(inside.index[-1], side="right") - 1
    head = bars.iloc[: position + 1]
    if len(head) != len(inside) or not np.array_equal(fingerprint(head).to_numpy(), inside.to_numpy()):
        return bars
    if position == len(bars) - 1:
        return None
    return bars.iloc[max(0, position + 1 - CONTEXT_BARS) :]


def check_window(bars: pd.DataFrame, *, symbol: str, timeframe: str, asset_class: AssetClass, what: str) -> int:
    """Make sure every bar of ``bars`` passed the suite: validate only what has no verdict yet.

    Returns
    -------
    int
        How many bars were validated now (0: the stored verdicts covered the window).

    Raises
    ------
    DataQualityError
        If the bars without a verdict (with their context) fail the suite; nothing is recorded then.
    """
    unchecked = unchecked_part(bars, passed_bars(symbol, timeframe, asset_class))
    if unchecked is None:
        return 0
    from pipeline.quality.validate import validate_bars

    report = validate_bars(unchecked, asset_class=asset_class, timeframe=timeframe)
    raise_for_failure(report, what)
    record_passed(symbol, timeframe, asset_class, unchecked)
    return len(unchecked)


def check_ingested(
    store: BarStore,
    *,
    symbol: str,
    timeframe: str,
    asset_class: AssetClass,
    since: pd.Timestamp,
    now: pd.Timestamp,
    sources: list[str] | None = None,
) -> int:
    """Record verdicts for the closed bars of a series ingested from ``since`` on (where bars enter the store),
    so that the next reader of them (the trading cycle) only compares hashes.

    The bars from ``since`` that have closed by ``now`` are checked with :func:`check_window`, with up to
    :data:`CONTEXT_BARS` stored bars before them; a bar still forming is left out (its values will change,
    and a recorded verdict for it would make the next reader validate its whole window).

    Returns
    -------
    int
        How many bars were validated now (0: every one already had its verdict, or none has closed).

    Raises
    ------
    DataQualityError
        If those bars fail the suite; nothing is recorded then (a reader validates them itself).
    """
    length = bar_length(timeframe)
    reach = CONTEXT_BARS * length * (6 if asset_class == "equity" else 1) + pd.Timedelta(days=5)  # closed hours
    bars = store.load(symbol, timeframe, since - reach, now, sources=sources)
    if bars.empty:
        return 0
    bars = bars[bars.index + length <= now]
    new = int((bars.index >= since).sum())
    if new == 0:
        return 0
    window = bars.iloc[-(new + CONTEXT_BARS) :]
    what = f"{symbol} {timeframe} (ingested bars)"
    return check_window(window, symbol=symbol, timeframe=timeframe, asset_class=asset_class, what=what)
