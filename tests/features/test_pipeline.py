"""FeaturePipeline: feature sets per asset class, warm-up, metadata and reproducibility."""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys

import numpy as np
import pandas as pd
import pytest

from pipeline.config import FeaturesConfig
from pipeline.errors import FeatureError
from pipeline.features import FeatureMetadata, FeaturePipeline, get_group
from tests.stubs import random_walk_bars, sample_bars


@pytest.fixture(scope="module")
def aapl() -> pd.DataFrame:
    return sample_bars("AAPL")


def test_from_config_when_equity_defaults_builds_at_least_14_features(aapl: pd.DataFrame) -> None:
    features, meta = FeaturePipeline.from_config(FeaturesConfig(), "equity").fit_transform(aapl)
    assert features.shape[1] >= 14
    assert list(features.columns) == list(meta.feature_names)
    assert any(name.startswith("volume_") for name in meta.feature_names)
    for name in meta.feature_names:
        assert any(name.startswith(f"{group}_") for group in meta.groups), name


def test_from_config_when_crypto_defaults_builds_12_features_without_volume() -> None:
    bars = random_walk_bars(400, freq="1h")
    bars["volume"] = np.nan  # crypto features must not need volume at all
    pipe = FeaturePipeline.from_config(FeaturesConfig(), "crypto")
    features, meta = pipe.fit_transform(bars)
    assert features.shape[1] >= 12
    assert "volume" not in meta.groups
    assert not any(get_group(name).uses_volume for name in meta.groups)
    assert not any(name.startswith("volume_") for name in meta.feature_names)
    assert len(features) == len(bars) - meta.warmup


def test_from_config_when_crypto_lists_volume_explicitly_keeps_it() -> None:
    cfg = FeaturesConfig(groups=["returns", "volume"], params={"volume": {"window": 10}})
    pipe = FeaturePipeline.from_config(cfg, "crypto")
    assert pipe.groups == ("returns", "volume")
    assert pipe.params["volume"] == {"window": 10}


def test_from_config_when_crypto_defaults_ignore_params_of_dropped_volume() -> None:
    cfg = FeaturesConfig(params={"volume": {"window": 10}, "volatility": {"slow": 30}})
    pipe = FeaturePipeline.from_config(cfg, "crypto")
    assert "volume" not in pipe.groups
    assert pipe.params["volatility"]["slow"] == 30


def test_from_config_when_params_override_defaults_names_follow(aapl: pd.DataFrame) -> None:
    cfg = FeaturesConfig(groups=["volatility"], params={"volatility": {"slow": 30, "fast": 10}})
    features, meta = FeaturePipeline.from_config(cfg, "equity").fit_transform(aapl)
    assert "volatility_30" in features.columns
    assert "volatility_ratio_10_30" in features.columns
    assert meta.params == {"volatility": {"fast": 10, "slow": 30, "atr_window": 14}}
    assert meta.warmup == 31


def test_from_config_when_asset_class_unknown_refuses() -> None:
    with pytest.raises(FeatureError, match="asset_class"):
        FeaturePipeline.from_config(FeaturesConfig(), "forex")  # type: ignore[arg-type]


def test_fit_transform_when_warmup_drops_leading_rows_and_leaves_no_nan() -> None:
    bars = random_walk_bars(300)
    pipe = FeaturePipeline.from_config(FeaturesConfig(), "equity")
    features, meta = pipe.fit_transform(bars)
    assert meta.warmup == pipe.warmup == 50
    assert features.index.equals(bars.index[meta.warmup :])
    assert not features.isna().any().any()
    assert np.isfinite(features.to_numpy()).all()
    assert (features.dtypes == "float64").all()


def test_fit_transform_when_values_missing_drops_rows_and_never_fills() -> None:
    bars = random_walk_bars(300)
    bars.iloc[150, bars.columns.get_loc("volume")] = np.nan
    pipe = FeaturePipeline(["returns", "volume"])
    features, _ = pipe.fit_transform(bars)
    raw = pipe.compute_raw(bars)
    dropped = bars.index.difference(features.index)
    assert bars.index[150] in dropped
    assert bars.index[151] in dropped  # the volume change at 151 needs the missing bar
    assert bars.index[169] in dropped  # the last 20-bar window that holds it
    assert bars.index[170] in features.index
    pd.testing.assert_frame_equal(features, raw.loc[features.index], check_exact=True)
    pd.testing.assert_frame_equal(pipe.transform(bars), features, check_exact=True)


def test_transform_when_group_returns_infinity_drops_that_row(plugin_module) -> None:
    module = plugin_module(
        """
        import numpy as np
        import pandas as pd
        from pipeline.features import feature_group

        @feature_group("qg_test_inf")
        def spiky(bars):
            values = bars["close"].to_numpy().copy()
            values[[10, 20]] = [np.inf, -np.inf]
            return pd.DataFrame({"qg_test_inf_x": values}, index=bars.index)
        """
    )
    pipe = FeaturePipeline(["qg_test_inf"], plugins=[module])
    bars = random_walk_bars(40)
    features, _ = pipe.fit_transform(bars)
    assert len(features) == 38
    assert bars.index[10] not in features.index and bars.index[20] not in features.index
    pd.testing.assert_frame_equal(pipe.transform(bars), features)


def test_fit_transform_when_too_few_bars_error_names_warmup() -> None:
    with pytest.raises(FeatureError, match=r"no feature row left after warm-up \(30 bars, warmup 50\)"):
        FeaturePipeline.from_config(FeaturesConfig(), "equity").fit_transform(random_walk_bars(30))


def test_fit_transform_when_bars_not_canonical_refuses() -> None:
    bars = random_walk_bars(100)
    with pytest.raises(FeatureError, match=r"missing column\(s\) volume"):
        FeaturePipeline(["returns"]).fit_transform(bars.drop(columns="volume"))
    with pytest.raises(FeatureError, match="unique and ascending"):
        FeaturePipeline(["returns"]).fit_transform(bars.iloc[::-1])


def test_from_metadata_when_rebuilt_from_json_reproduces_exact_values(aapl: pd.DataFrame) -> None:
    features, meta = FeaturePipeline.from_config(FeaturesConfig(), "equity").fit_transform(aapl)
    restored = FeatureMetadata.from_dict(json.loads(json.dumps(meta.to_dict())))
    again = FeaturePipeline.from_metadata(restored).transform(aapl)
    pd.testing.assert_frame_equal(again, features, check_exact=True)


def test_metadata_when_round_tripped_through_json_is_equal(aapl: pd.DataFrame) -> None:
    cfg = FeaturesConfig(params={"returns": {"lags": [1, 3]}, "trend": {"fast": 5}})
    _, meta = FeaturePipeline.from_config(cfg, "equity").fit_transform(aapl)
    text = json.dumps(meta.to_dict())
    assert FeatureMetadata.from_dict(json.loads(text)) == meta
    assert meta.params["returns"]["lags"] == [1, 3]
    assert meta.warmup == max(get_group(g).warmup_for(meta.params[g]) for g in meta.groups)
    assert len(meta.code_hash) == 64
    assert set(meta.group_hashes) == set(meta.groups)
    assert meta.library_version


def test_metadata_when_key_missing_refuses() -> None:
    with pytest.raises(FeatureError, match=r"missing key\(s\) code_hash"):
        FeatureMetadata.from_dict({"feature_names": [], "groups": [], "params": {}, "warmup": 0, "plugins": []})


def test_from_metadata_when_code_hash_differs_refuses_unless_not_strict(aapl: pd.DataFrame) -> None:
    features, meta = FeaturePipeline(["returns", "trend"]).fit_transform(aapl)
    stale = dataclasses.replace(meta, code_hash="0" * 64, group_hashes={**meta.group_hashes, "trend": "0" * 64})
    with pytest.raises(FeatureError, match=r"feature code changed .*group\(s\) trend;"):
        FeaturePipeline.from_metadata(stale)
    with pytest.warns(UserWarning, match="feature code changed"):
        pipe = FeaturePipeline.from_metadata(stale, strict=False)
    pd.testing.assert_frame_equal(pipe.transform(aapl), features)


def test_from_metadata_when_plugin_source_edited_refuses(plugin_module) -> None:
    source = """
        import pandas as pd
        from pipeline.features import feature_group

        @feature_group("qg_test_edited", warmup=2)
        def edited(bars):
            return pd.DataFrame({"qg_test_edited_x": bars["close"].pct_change(SCALE)}, index=bars.index)
        """
    module = plugin_module(source.replace("SCALE", "1"))
    bars = random_walk_bars(60)
    _, meta = FeaturePipeline(["qg_test_edited"], plugins=[module]).fit_transform(bars)
    plugin_module(source.replace("SCALE", "2"), name=module)
    importlib.reload(sys.modules[module])
    with pytest.raises(FeatureError, match="qg_test_edited"):
        FeaturePipeline.from_metadata(meta)


def test_transform_when_fitted_matches_fit_transform_on_the_same_bars(aapl: pd.DataFrame) -> None:
    pipe = FeaturePipeline.from_config(FeaturesConfig(), "equity")
    features, _ = pipe.fit_transform(aapl)
    pd.testing.assert_frame_equal(pipe.transform(aapl), features, check_exact=True)


def test_transform_when_bars_carry_a_source_column_ignores_it(aapl: pd.DataFrame) -> None:
    pipe = FeaturePipeline(["returns", "calendar"])
    features, _ = pipe.fit_transform(aapl)
    pd.testing.assert_frame_equal(pipe.transform(aapl.assign(source="sample")), features)


def test_from_metadata_when_a_helper_the_group_uses_is_edited_refuses(plugin_module) -> None:
    helpers = plugin_module("def horizon():\n    return 1\n")
    group = f"""
        import pandas as pd
        import {helpers} as helpers
        from pipeline.features import feature_group

        @feature_group("qg_test_helped", warmup=3)
        def helped(bars):
            return pd.DataFrame({{"qg_test_helped_x": bars["close"].pct_change(helpers.horizon())}}, index=bars.index)
        """
    module = plugin_module(group)
    bars = random_walk_bars(60)
    _, meta = FeaturePipeline(["qg_test_helped"], plugins=[module]).fit_transform(bars)
    FeaturePipeline.from_metadata(meta)  # unchanged code reloads fine
    plugin_module("def horizon():\n    return 2\n", name=helpers)
    importlib.reload(sys.modules[helpers])
    with pytest.raises(FeatureError, match="qg_test_helped"):
        FeaturePipeline.from_metadata(meta)
