"""Checks of an experiment beyond its schema: do the sources and feature groups it names exist?"""

from __future__ import annotations

from pathlib import Path

from pipeline.config import ExperimentConfig
from pipeline.errors import FeatureError
from pipeline.sources import KNOWN_SOURCES


def semantic_errors(config: ExperimentConfig, path: str | Path) -> list[str]:
    """Problems a valid-by-schema config can still have, one ``file: field: message`` line each."""
    from pipeline.features import FeaturePipeline

    errors: list[str] = []
    for field_name, name in [("data.source", config.data.source)] + [
        (f"data.fallback.{i}", name) for i, name in enumerate(config.data.fallback)
    ]:
        if name not in KNOWN_SOURCES:
            errors.append(f"{path}: {field_name}: unknown data source {name!r} (known: {', '.join(KNOWN_SOURCES)})")
    if config.data.source in config.data.fallback:
        errors.append(f"{path}: data.fallback: must not repeat the primary source {config.data.source!r}")
    try:
        FeaturePipeline(config.features.groups, params=config.features.params, plugins=config.features.plugins)
    except FeatureError as exc:
        errors.append(f"{path}: features: {exc}")
    return errors
