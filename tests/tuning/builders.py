"""Small, deterministic tuning inputs: a config with a tuning block and a dataset with a learnable signal."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipeline.config import ExperimentConfig
from pipeline.labels.targets import forward_returns
from pipeline.split import Dataset, build_dataset
from tests.stubs import random_walk_bars

PERIODS_PER_YEAR = 252.0
HOLDING = 5

SMALL_SPACE: dict[str, dict[str, Any]] = {
    "max_depth": {"type": "int", "low": 2, "high": 4},
    "eta": {"type": "float", "low": 0.05, "high": 0.3, "log": True},
}


def tuning_config(name: str = "tune-test", **tuning: Any) -> ExperimentConfig:
    """An experiment with a small model and a ``tuning:`` block (``tuning`` overrides its fields)."""
    block: dict[str, Any] = {"trials": 6, "metric": "sharpe", "search_space": SMALL_SPACE, "seed": 3}
    block.update(tuning)
    return ExperimentConfig.model_validate(
        {
            "name": name,
            "hypothesis": "a leaky feature predicts the next week",
            "data": {"source": "sample", "symbol": "TEST", "start": "2020-01-01", "end": "2022-12-31"},
            "target": {"kind": "binary", "holding_period": HOLDING},
            "model": {"device": "cpu", "num_boost_round": 40, "early_stopping_rounds": 10, "params": {"nthread": 1}},
            "tuning": block,
        }
    )


def signal_dataset(config: ExperimentConfig, n: int = 700, seed: int = 11) -> Dataset:
    """Random-walk bars plus a noisy copy of the forward return as a feature: learnable, so pruning bites."""
    bars = random_walk_bars(n, seed=seed)
    rng = np.random.default_rng(seed)
    forward = np.nan_to_num(forward_returns(bars["close"].to_numpy(), HOLDING), nan=0.0)
    features = pd.DataFrame(
        {
            "hint": forward + rng.normal(0.0, 0.01, n),
            "noise_a": rng.normal(size=n),
            "noise_b": rng.normal(size=n),
        },
        index=bars.index,
    )
    return build_dataset(bars, features, config)
