"""The group registry: decorator, params, plugins and validation of what groups return."""

from __future__ import annotations

import pytest

from pipeline.errors import FeatureError
from pipeline.features import FeaturePipeline, feature_group, get_group, registered_groups
from tests.stubs import random_walk_bars

BUILTINS = ("returns", "volatility", "volume", "trend", "mean_reversion", "calendar")


def test_registry_when_imported_has_every_builtin_group() -> None:
    assert set(BUILTINS) <= set(registered_groups())
    assert get_group("volume").uses_volume
    assert not any(get_group(name).uses_volume for name in BUILTINS if name != "volume")


def test_group_defaults_when_read_come_from_the_signature() -> None:
    assert get_group("volatility").defaults == {"fast": 5, "slow": 20, "atr_window": 14}
    assert get_group("returns").resolve_params() == {"lags": [1, 2, 5, 10, 20]}
    assert get_group("volatility").resolve_params({"slow": 30}) == {"fast": 5, "slow": 30, "atr_window": 14}


def test_group_warmup_when_params_grow_follows_them() -> None:
    spec = get_group("volatility")
    assert spec.warmup_for(spec.resolve_params()) == 21
    assert spec.warmup_for(spec.resolve_params({"slow": 60})) == 61


def test_pipeline_when_group_unknown_message_names_it_and_lists_known() -> None:
    with pytest.raises(FeatureError) as info:
        FeaturePipeline(["returns", "no_such_group"])
    message = str(info.value)
    assert "'no_such_group'" in message
    assert all(name in message for name in BUILTINS)
    assert "\n" not in message


def test_pipeline_when_param_unknown_message_names_group_and_param() -> None:
    with pytest.raises(FeatureError, match=r"features\.params\.volatility: unknown parameter\(s\) windw"):
        FeaturePipeline(["volatility"], params={"volatility": {"windw": 3}})


def test_pipeline_when_params_name_a_group_not_listed_refuses() -> None:
    with pytest.raises(FeatureError, match="trend"):
        FeaturePipeline(["returns"], params={"trend": {"fast": 3}})


def test_pipeline_when_group_listed_twice_refuses() -> None:
    with pytest.raises(FeatureError, match="listed twice: returns"):
        FeaturePipeline(["returns", "calendar", "returns"])


def test_group_when_params_invalid_error_names_group() -> None:
    pipe = FeaturePipeline(["volatility"], params={"volatility": {"fast": 0}})
    with pytest.raises(FeatureError, match="feature group volatility failed: ValueError: fast must be"):
        pipe.compute_raw(random_walk_bars(100))


def test_plugin_when_listed_registers_its_group(plugin_module) -> None:
    module = plugin_module(
        """
        import pandas as pd
        from pipeline.features import feature_group

        @feature_group("qg_test_spread", warmup=3)
        def spread(bars, window=3):
            width = (bars["high"] - bars["low"]) / bars["close"]
            return pd.DataFrame({"mean": width.rolling(window).mean(), "qg_test_spread_last": width})
        """
    )
    pipe = FeaturePipeline(["returns", "qg_test_spread"], params={"qg_test_spread": {"window": 4}}, plugins=[module])
    features, meta = pipe.fit_transform(random_walk_bars(120))
    assert [c for c in features.columns if "spread" in c] == ["qg_test_spread_mean", "qg_test_spread_last"]
    assert meta.plugins == (module,)
    assert meta.params["qg_test_spread"] == {"window": 4}
    assert meta.warmup == 20


def test_plugin_when_module_missing_error_names_module() -> None:
    with pytest.raises(FeatureError, match=r"features\.plugins: cannot import qg_no_such_module_xyz"):
        FeaturePipeline(["returns"], plugins=["qg_no_such_module_xyz"])


def test_group_when_output_has_wrong_index_error_names_group(plugin_module) -> None:
    module = plugin_module(
        """
        import pandas as pd
        from pipeline.features import feature_group

        @feature_group("qg_test_short")
        def short(bars):
            return pd.DataFrame({"x": bars["close"].to_numpy()[1:]}, index=bars.index[1:])
        """
    )
    pipe = FeaturePipeline(["qg_test_short"], plugins=[module])
    with pytest.raises(FeatureError, match="feature group qg_test_short returned 99 rows on a different index"):
        pipe.fit_transform(random_walk_bars(100))


def test_group_when_output_not_numeric_error_names_group_and_column(plugin_module) -> None:
    module = plugin_module(
        """
        import pandas as pd
        from pipeline.features import feature_group

        @feature_group("qg_test_text")
        def text(bars):
            return pd.DataFrame({"ok": bars["close"], "label": "up"}, index=bars.index)
        """
    )
    pipe = FeaturePipeline(["qg_test_text"], plugins=[module])
    with pytest.raises(FeatureError, match=r"feature group qg_test_text returned non-numeric column\(s\) label"):
        pipe.fit_transform(random_walk_bars(100))


def test_group_when_output_not_a_frame_error_names_group(plugin_module) -> None:
    module = plugin_module(
        """
        from pipeline.features import feature_group

        @feature_group("qg_test_array")
        def array(bars):
            return bars["close"].to_numpy()
        """
    )
    with pytest.raises(FeatureError, match="feature group qg_test_array returned ndarray"):
        FeaturePipeline(["qg_test_array"], plugins=[module]).fit_transform(random_walk_bars(50))


def test_feature_group_when_name_taken_by_another_function_refuses() -> None:
    with pytest.raises(FeatureError, match="feature group returns is already registered"):

        @feature_group("returns")
        def returns(bars):  # pragma: no cover - never registered
            return bars


def test_feature_group_when_name_not_identifier_refuses() -> None:
    with pytest.raises(FeatureError, match="must be a Python identifier"):
        feature_group("bad-name")
