"""quantgate's model registry on top of MLflow's: gate-aware promotion with a recorded history.

This package is the only place that knows about MLflow *stages* (:mod:`pipeline.registry._stages`);
stage ``Production`` and alias ``production`` are kept in step. Names load lazily so importing
``pipeline`` does not import MLflow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.registry.history import default_actor
    from pipeline.registry.models import (
        ModelSummary,
        ModelVersionInfo,
        demote,
        get_version,
        list_models,
        load_production_model,
        production_model_uri,
        promote,
        promotion_history,
        register_model,
    )

__all__ = [
    "ModelSummary",
    "ModelVersionInfo",
    "default_actor",
    "demote",
    "get_version",
    "list_models",
    "load_production_model",
    "production_model_uri",
    "promote",
    "promotion_history",
    "register_model",
]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'pipeline.registry' has no attribute {name!r}")
    module = "pipeline.registry.history" if name == "default_actor" else "pipeline.registry.models"
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
