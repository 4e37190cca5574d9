"""Checks of an experiment beyond its schema: do its sources and feature groups exist and accept their params?"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import ExperimentConfig
from pipeline.errors import FeatureError, SourceError
from pipeline.sources import source_class, source_names


def semantic_errors(config: ExperimentConfig, path: str | Path) -> list[str]:
    """Problems a valid-by-schema config can still have, one ``file: field: message`` line each."""
    from pipeline.features import FeaturePipeline

    errors: list[str] = []
    for field_name, name in [("data.source", config.data.source)] + [
        (f"data.fallback.{i}", name) for i, name in enumerate(config.data.fallback)
    ]:
        try:
            source_class(name)  # imports that source's module only (all of them only to list the known ones)
        except SourceError:
            known = source_names()
            if name not in known:
                errors.append(f"{path}: {field_name}: unknown data source {name!r} (known: {', '.join(known)})")
    if config.data.path is not None:
        error = _data_file_problem(config.data.path)
        if error is not None:
            errors.append(f"{path}: data.path: {error}")
    if config.data.source in config.data.fallback:
        errors.append(f"{path}: data.fallback: must not repeat the primary source {config.data.source!r}")
    try:
        pipeline = FeaturePipeline(
            config.features.groups, params=config.features.params, plugins=config.features.plugins
        )
        pipeline.compute_raw(_probe_bars())  # parameter values (a window of 0) fail here, before any data is read
    except FeatureError as exc:
        errors.append(f"{path}: features: {exc}")
    return errors


def _data_file_problem(data_path: str) -> str | None:
    """Why the data file cannot be used (unreadable, bad columns, rows or timestamps), or None."""
    from pipeline.sources.file import read_bar_file

    try:
        read_bar_file(data_path)
    except SourceError as exc:
        return str(exc).removeprefix("file: ")
    return None


def _probe_bars(n: int = 64) -> pd.DataFrame:
    """A small synthetic daily bar frame to try the feature groups on."""
    index = pd.date_range("2020-01-01", periods=n, freq="1D", tz="UTC", name="ts")
    close = 100.0 * np.exp(np.cumsum(np.random.default_rng(0).normal(0.0, 0.01, n)))
    return pd.DataFrame(
        {"open": close, "high": close * 1.01, "low": close * 0.99, "close": close, "volume": 1000.0}, index=index
    )
