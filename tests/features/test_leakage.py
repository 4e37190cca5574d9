"""check_leakage: look-ahead features are caught and named, causal ones pass."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.config import FeaturesConfig
from pipeline.errors import FeatureError
from pipeline.features import FeaturePipeline, check_leakage
from tests.stubs import random_walk_bars, sample_bars

LEAKY_PLUGIN = """
    import pandas as pd
    from pipeline.features import feature_group

    @feature_group("qg_leak_shift")
    def next_return(bars):
        return pd.DataFrame({"qg_leak_shift_next": bars["close"].pct_change().shift(-1)}, index=bars.index)

    @feature_group("qg_leak_centred", warmup=5)
    def centred_mean(bars, window=5):
        ratio = bars["close"].rolling(window, center=True).mean() / bars["close"]
        return pd.DataFrame({"qg_leak_centred_mean": ratio}, index=bars.index)

    @feature_group("qg_leak_norm")
    def normalised(bars):
        close = bars["close"]
        return pd.DataFrame({"qg_leak_norm_z": (close - close.mean()) / close.std()}, index=bars.index)

    @feature_group("qg_leak_bfill")
    def week_close(bars):
        weekly = bars["close"].resample("W").last()
        return pd.DataFrame({"qg_leak_bfill_week": weekly.reindex(bars.index, method="bfill")}, index=bars.index)

    @feature_group("qg_leak_mixed", warmup=10)
    def mixed(bars):
        close = bars["close"]
        return pd.DataFrame(
            {"qg_leak_mixed_causal": close.rolling(10).mean() / close, "qg_leak_mixed_future": close.bfill().shift(-3)},
            index=bars.index,
        )
"""


@pytest.fixture(scope="module")
def aapl() -> pd.DataFrame:
    return sample_bars("AAPL")


def test_check_leakage_when_builtin_equity_set_passes(aapl: pd.DataFrame) -> None:
    pipe = FeaturePipeline.from_config(FeaturesConfig(), "equity")
    report = check_leakage(pipe, aapl)
    assert report.passed, report.details
    assert report.leaking_features == []
    assert report.checked_features == list(pipe.compute_raw(aapl.iloc[:100]).columns)
    assert len(report.cuts) == 5


def test_check_leakage_when_builtin_crypto_set_passes() -> None:
    bars = random_walk_bars(2000, freq="1h", seed=11)
    report = check_leakage(FeaturePipeline.from_config(FeaturesConfig(), "crypto"), bars, cuts=8)
    assert report.passed, report.details
    assert len(report.cuts) == 8


@pytest.mark.parametrize(
    ("group", "feature"),
    [
        ("qg_leak_shift", "qg_leak_shift_next"),
        ("qg_leak_centred", "qg_leak_centred_mean"),
        ("qg_leak_norm", "qg_leak_norm_z"),
        ("qg_leak_bfill", "qg_leak_bfill_week"),
    ],
)
def test_check_leakage_when_plugin_looks_ahead_names_the_feature(
    plugin_module, aapl: pd.DataFrame, group: str, feature: str
) -> None:
    module = plugin_module(LEAKY_PLUGIN)
    pipe = FeaturePipeline(["returns", "trend", group], plugins=[module])
    report = check_leakage(pipe, aapl)
    assert not report.passed
    assert report.leaking_features == [feature]
    assert feature in report.checked_features and "returns_1" in report.checked_features
    assert set(report.details) == {feature}
    assert "rows differ" in report.details[feature]


def test_check_leakage_when_group_mixes_causal_and_leaking_columns_names_only_the_leak(
    plugin_module, aapl: pd.DataFrame
) -> None:
    module = plugin_module(LEAKY_PLUGIN)
    report = check_leakage(FeaturePipeline(["qg_leak_mixed"], plugins=[module]), aapl)
    assert report.leaking_features == ["qg_leak_mixed_future"]


def test_check_leakage_when_run_twice_uses_the_same_cuts_after_warmup(aapl: pd.DataFrame) -> None:
    pipe = FeaturePipeline(["returns", "volatility"])
    first, second = check_leakage(pipe, aapl, cuts=4), check_leakage(pipe, aapl, cuts=4)
    assert first.cuts == second.cuts
    assert first.cuts[0] == aapl.index[pipe.warmup]
    assert first.cuts[-1] == aapl.index[-2]
    assert first.to_dict()["cuts"][0] == aapl.index[pipe.warmup].isoformat()


def test_check_leakage_when_cuts_are_timestamps_uses_them(aapl: pd.DataFrame) -> None:
    cuts = [aapl.index[300], aapl.index[900]]
    report = check_leakage(FeaturePipeline(["returns"]), aapl, cuts=cuts)
    assert report.passed
    assert report.cuts == cuts


def test_check_leakage_when_too_few_bars_refuses() -> None:
    with pytest.raises(FeatureError, match="need at least 22 bars"):
        check_leakage(FeaturePipeline(["returns"]), random_walk_bars(21))
