"""Builders for tracking and registry tests: a tiny XGBoost model and an experiment file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import ExperimentConfig, load_experiment


def tiny_booster(rows: int = 40, seed: int = 3):
    """Train a few-round XGBoost binary classifier on ``rows`` random rows; return ``(booster, X)``."""
    import xgboost as xgb

    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {"ret_1": rng.normal(0, 0.01, rows), "vol_20": rng.uniform(0.1, 0.3, rows), "dow": rng.integers(0, 5, rows)}
    ).astype("float64")
    y = (X["ret_1"] + rng.normal(0, 0.005, rows) > 0).astype(int)
    params = {"objective": "binary:logistic", "max_depth": 2, "eta": 0.3, "nthread": 1, "seed": seed}
    booster = xgb.train(params, xgb.DMatrix(X, label=y), num_boost_round=5)
    return booster, X


def experiment_file(folder: Path, name: str = "mom-aapl", hypothesis: str = "Momentum persists.") -> Path:
    """Write a minimal experiment YAML into ``folder`` and return its path."""
    path = folder / f"{name}.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            name: {name}
            hypothesis: "{hypothesis}"
            data:
              source: sample
              symbol: AAPL
              timeframe: 1d
              start: 2010-01-01
              end: 2012-12-31
            target:
              holding_period: 5
            tags:
              owner: research
            """
        ),
        encoding="utf-8",
    )
    return path


def experiment(folder: Path, **kwargs: str) -> tuple[ExperimentConfig, Path]:
    """Write and load a minimal experiment; return ``(config, path)``."""
    path = experiment_file(folder, **kwargs)
    return load_experiment(path), path
