"""Property: no built-in feature at bar t changes when the bars after t are removed."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.features import FeaturePipeline, registered_groups
from pipeline.features.leakage import ATOL, RTOL
from tests.stubs import random_walk_bars

BUILTIN_GROUPS = [name for name, spec in registered_groups().items() if spec.func.__module__.startswith("pipeline.")]
PIPELINE = FeaturePipeline(BUILTIN_GROUPS)


def test_builtin_groups_when_listed_cover_every_builtin() -> None:
    assert set(BUILTIN_GROUPS) == {"returns", "volatility", "volume", "trend", "mean_reversion", "calendar"}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(min_value=60, max_value=240),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    freq=st.sampled_from(["1D", "1h", "15min"]),
    data=st.data(),
)
def test_builtin_features_when_later_bars_removed_keep_their_values(n: int, seed: int, freq: str, data) -> None:
    bars = random_walk_bars(n, seed=seed, freq=freq)
    keep = data.draw(st.integers(min_value=1, max_value=n - 1), label="bars kept")
    full_frame = PIPELINE.compute_raw(bars)
    full = full_frame.iloc[:keep].to_numpy()
    truncated = PIPELINE.compute_raw(bars.iloc[:keep]).to_numpy()
    same = np.isclose(full, truncated, rtol=RTOL, atol=ATOL) | (np.isnan(full) & np.isnan(truncated))
    changed = [name for name, ok in zip(full_frame.columns, same.all(axis=0), strict=True) if not ok]
    assert not changed, f"features changed when bars after #{keep - 1} were removed: {changed}"
