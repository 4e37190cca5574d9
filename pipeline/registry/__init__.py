"""quantgate's model registry on top of MLflow's: gate-aware promotion with a recorded history.

Commands (register, promote, demote) are :mod:`.commands`, reads :mod:`.queries`, the recorded history
:mod:`.history`. This package is the only place that knows about MLflow *stages* (:mod:`._stages`);
stage ``Production`` and alias ``production`` are kept in step. Names load lazily so importing
``pipeline`` does not import MLflow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.registry.commands import demote, promote, register_model
    from pipeline.registry.history import HistoryRow, default_actor
    from pipeline.registry.queries import (
        ModelSummary,
        ModelVersionInfo,
        get_version,
        list_models,
        load_production_model,
        production_model_uri,
        promotion_history,
    )

_EXPORTS: dict[str, str] = {
    "demote": "pipeline.registry.commands",
    "promote": "pipeline.registry.commands",
    "register_model": "pipeline.registry.commands",
    "HistoryRow": "pipeline.registry.history",
    "default_actor": "pipeline.registry.history",
    "ModelSummary": "pipeline.registry.queries",
    "ModelVersionInfo": "pipeline.registry.queries",
    "get_version": "pipeline.registry.queries",
    "list_models": "pipeline.registry.queries",
    "load_production_model": "pipeline.registry.queries",
    "production_model_uri": "pipeline.registry.queries",
    "promotion_history": "pipeline.registry.queries",
}

__all__ = [
    "HistoryRow",
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
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pipeline.registry' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
