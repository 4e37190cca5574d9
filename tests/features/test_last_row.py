"""The last-row path: ``FeaturePipeline.transform_last(bars)`` is ``transform(bars).iloc[-1:]``, bit for bit.

Exact, not within a tolerance: the built-in last-row paths run the same floating-point operations on the
same values as the groups' functions (pandas' own running statistics over the whole window where the last
value depends on every bar, see ``pipeline/features/groups/_last.py``), so any difference is a defect.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import FeatureError
from pipeline.features import BarArrays, FeaturePipeline, feature_last_row, get_group, registered_groups
from tests.stubs import random_walk_bars

BUILTINS = ("returns", "volatility", "volume", "trend", "mean_reversion", "calendar")


def _bars(
    n: int, seed: int, freq: str, price: float, sigma: float, tick: float, flat: tuple[int, int], volume: str
) -> pd.DataFrame:
    """Random-walk bars with valid OHLC, optionally on a price tick, with a flat stretch and odd volumes."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2019-12-30 14:30", periods=n, freq=freq, tz="UTC", name="ts")
    close = price * np.exp(np.cumsum(rng.normal(0.0, sigma, n)))
    open_ = np.concatenate([[price], close[:-1]]) * np.exp(rng.normal(0.0, sigma / 4, n))
    spread = np.abs(rng.normal(0.0, sigma / 2, n))
    high = np.maximum(open_, close) * (1 + spread)
    low = np.minimum(open_, close) * (1 - spread)
    if tick:
        open_, high, low, close = (np.round(a / tick) * tick for a in (open_, high, low, close))
        low = np.maximum(low, tick)
        open_, close = np.clip(open_, low, high), np.clip(close, low, high)
    back, length = flat  # a flat stretch of `length` bars starting `back` bars before the last one
    if length:
        start = max(0, n - 1 - back)
        stop = min(n, start + length)
        for a in (open_, high, low, close):
            a[start:stop] = close[start]
    vol = rng.lognormal(14, 0.5, n)
    if volume == "zeros":
        vol[rng.integers(0, n, max(1, n // 10))] = 0.0
        vol[n - 25 : n - 3] = 0.0
    elif volume == "missing":
        vol[rng.integers(max(0, n - 30), n)] = np.nan
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": vol}, index=index)


def _assert_same_last_row(pipe: FeaturePipeline, bars: pd.DataFrame) -> None:
    try:
        full = pipe.transform(bars).iloc[-1:]
    except FeatureError as exc:
        with pytest.raises(FeatureError) as info:
            pipe.transform_last(bars)
        assert str(info.value) == str(exc)
        return
    fast = pipe.transform_last(bars)
    assert np.isfinite(fast.to_numpy()).all()
    pd.testing.assert_frame_equal(fast, full, check_exact=True, check_freq=False)


PARAMS = st.fixed_dictionaries(
    {
        "returns": st.sampled_from([{}, {"lags": [3, 1, 60]}]),
        "volatility": st.sampled_from([{}, {"fast": 2, "slow": 7, "atr_window": 3}, {"fast": 1}]),
        "volume": st.sampled_from([{}, {"window": 5}]),
        "trend": st.sampled_from([{}, {"fast": 3, "slow": 8, "macd_fast": 4, "macd_slow": 9, "slope_window": 2}]),
        "mean_reversion": st.sampled_from([{}, {"window": 2, "rsi_window": 1, "stoch_window": 1}]),
        "calendar": st.just({}),
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(min_value=40, max_value=700),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    freq=st.sampled_from(["1D", "1h", "15min"]),
    price=st.sampled_from([0.05, 1.0, 37.5, 180.0, 4200.0]),
    sigma=st.sampled_from([0.001, 0.01, 0.05]),
    tick=st.sampled_from([0.0, 0.01]),
    flat=st.tuples(st.integers(min_value=0, max_value=120), st.sampled_from([0, 3, 25, 80])),
    volume=st.sampled_from(["lognormal", "zeros", "missing"]),
    params=PARAMS,
    groups=st.lists(st.sampled_from(BUILTINS), min_size=1, max_size=6, unique=True),
)
def test_transform_last_when_bars_random_equals_last_row_of_transform(
    n: int,
    seed: int,
    freq: str,
    price: float,
    sigma: float,
    tick: float,
    flat: tuple[int, int],
    volume: str,
    params: dict,
    groups: list[str],
) -> None:
    bars = _bars(n, seed, freq, price, sigma, tick, flat, volume)
    pipe = FeaturePipeline(groups, params={g: p for g, p in params.items() if g in groups})
    _assert_same_last_row(pipe, bars)


@pytest.mark.parametrize("n", [551, 900])
def test_transform_last_on_a_trading_window_of_every_builtin_equals_transform(n: int) -> None:
    pipe = FeaturePipeline(list(BUILTINS))
    for seed in range(5):
        _assert_same_last_row(pipe, random_walk_bars(n, seed=seed))


def test_every_builtin_group_has_a_last_row_path() -> None:
    builtins = {name for name, spec in registered_groups().items() if spec.func.__module__.startswith("pipeline.")}
    assert builtins == set(BUILTINS)
    assert all(get_group(name).last_row is not None for name in BUILTINS)


def test_transform_last_when_last_bar_incomplete_gives_the_last_complete_row() -> None:
    bars = random_walk_bars(300, seed=4)
    bars.iloc[-1, bars.columns.get_loc("volume")] = np.nan  # the last bar has no volume features
    pipe = FeaturePipeline(list(BUILTINS))
    fast = pipe.transform_last(bars)
    assert fast.index[0] == bars.index[-2]
    pd.testing.assert_frame_equal(fast, pipe.transform(bars).iloc[-1:], check_exact=True, check_freq=False)


def test_transform_last_within_warmup_raises_as_transform_does() -> None:
    pipe = FeaturePipeline(["trend"])
    with pytest.raises(FeatureError, match=r"no feature row left after warm-up \(50 bars, warmup 50\)"):
        pipe.transform_last(random_walk_bars(50))


def test_transform_last_when_columns_differ_from_metadata_raises_as_transform_does() -> None:
    bars = random_walk_bars(200)
    _, meta = FeaturePipeline(["returns"]).fit_transform(bars)
    pipe = FeaturePipeline.from_metadata(meta)
    pipe._metadata = dataclasses.replace(meta, feature_names=(*meta.feature_names[1:], meta.feature_names[0]))
    with pytest.raises(FeatureError, match="features differ from the fitted metadata"):
        pipe.transform_last(bars)


def test_transform_last_when_plugin_has_no_last_row_path_runs_its_function(plugin_module) -> None:
    module = plugin_module(
        """
        import numpy as np
        from pipeline.features import feature_group

        @feature_group("qg_test_ewm_spread", warmup=5)
        def spread(bars, span=7):
            fast = bars["close"].ewm(span=span, adjust=False).mean()
            return (np.log(bars["close"]) - np.log(fast)).rename("spread").to_frame()
        """
    )
    pipe = FeaturePipeline(["returns", "qg_test_ewm_spread", "trend"], plugins=[module])
    assert get_group("qg_test_ewm_spread").last_row is None
    bars = random_walk_bars(400, seed=9)
    fast = pipe.transform_last(bars)
    full = pipe.transform(bars).iloc[-1:]
    assert list(fast.columns) == list(full.columns)
    assert fast["qg_test_ewm_spread_spread"].iloc[0] == full["qg_test_ewm_spread_spread"].iloc[0]  # same code
    _assert_same_last_row(pipe, bars)


def test_transform_last_when_plugin_registers_a_last_row_path_uses_it_and_hashes_it(plugin_module) -> None:
    source = """
        from pipeline.features import feature_group, feature_last_row

        @feature_group("qg_test_last_close", warmup=0)
        def last_close(bars):
            return bars[["close"]]

        @feature_last_row("qg_test_last_close")
        def last_close_last(bars):
            return {"close": bars.close[-1] * FACTOR}
        """
    module = plugin_module(source.replace("FACTOR", "1.0"))
    pipe = FeaturePipeline(["qg_test_last_close"], plugins=[module])
    bars = random_walk_bars(30, seed=2)
    hash_before = get_group("qg_test_last_close").source_hash()
    assert pipe.transform_last(bars).iloc[0, 0] == bars["close"].iloc[-1]
    other = plugin_module(source.replace("FACTOR", "2.0").replace("qg_test_last_close", "qg_test_last_close2"))
    FeaturePipeline(["qg_test_last_close2"], plugins=[other])
    spec = get_group("qg_test_last_close2")
    assert spec.last_row is not None
    assert spec.compute_last(_arrays(bars), {}) == {"qg_test_last_close2_close": 2.0 * bars["close"].iloc[-1]}
    assert dataclasses.replace(spec, last_row=None).source_hash() != spec.source_hash()
    assert hash_before != dataclasses.replace(get_group("qg_test_last_close"), last_row=None).source_hash()


def test_feature_last_row_when_group_not_registered_refuses() -> None:
    with pytest.raises(FeatureError, match="register the group before its last-row path"):
        feature_last_row("qg_no_such_group_xyz")(lambda bars: {})


def _arrays(bars: pd.DataFrame) -> BarArrays:
    return BarArrays.from_frame(bars.astype("float64"))
