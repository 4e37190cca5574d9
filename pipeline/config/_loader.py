"""Load experiment files: YAML -> (optional `extends:` base) -> matrix expansion -> validated configs.

Every failure is a :class:`ConfigError` whose lines read ``<file>: <field.path>: <message>``.

Files are read defensively (:mod:`pipeline.config._yaml`: regular files up to :data:`MAX_FILE_BYTES`, no
anchors, aliases, merge keys or duplicate keys, nesting capped at :data:`MAX_NESTING`), ``extends:`` may only
name files inside the hypothesis file's own folder tree, and a matrix may expand to at most
:data:`MAX_EXPANSION` experiments.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pipeline.config._messages import format_validation_error
from pipeline.config._models import ExperimentConfig, MatrixSpec
from pipeline.config._yaml import MAX_FILE_BYTES, MAX_NESTING, read_yaml_mapping
from pipeline.errors import ConfigError

__all__ = [
    "MATRIX_KEYS",
    "MAX_EXPANSION",
    "MAX_FILE_BYTES",
    "MAX_NESTING",
    "config_hash",
    "flatten_config",
    "format_validation_error",
    "json_schema",
    "load_experiment",
    "load_experiments",
    "read_yaml_mapping",
]

MATRIX_KEYS = ("symbols", "timeframes", "grid")
_MAX_EXTENDS_DEPTH = 5
#: Most experiments one file may expand to through ``symbols:``, ``timeframes:`` and ``grid:``.
MAX_EXPANSION = 256


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _anchor_data_path(raw: dict[str, Any], path: Path) -> dict[str, Any]:
    """Make a relative ``data.path`` absolute, relative to the folder of the file that declares it.

    Unlike ``extends:``, a data file may live anywhere: relative paths are read from the declaring file's
    folder, absolute ones as written. Whether the file exists is checked by ``quantgate check`` and at run.
    """
    data = raw.get("data")
    if isinstance(data, dict) and isinstance(data.get("path"), str) and data["path"].strip():
        target = Path(data["path"])
        if not target.is_absolute():
            data["path"] = os.path.normpath(path.parent.absolute() / target)
    return raw


def _resolve_extends(
    path: Path, raw: dict[str, Any], depth: int = 0, root: Path | None = None, seen: tuple[Path, ...] = ()
) -> dict[str, Any]:
    """Merge ``raw`` over the file its ``extends:`` names, which must lie inside ``root`` (the folder of the
    hypothesis file the chain started from)."""
    _anchor_data_path(raw, path)
    base_ref = raw.pop("extends", None)
    if base_ref is None:
        return raw
    root = root if root is not None else path.parent.resolve()
    if not isinstance(base_ref, str) or not base_ref.strip():
        raise ConfigError(f"{path}: extends: must be a relative path to a base file")
    if depth >= _MAX_EXTENDS_DEPTH:
        raise ConfigError(f"{path}: extends: chain deeper than {_MAX_EXTENDS_DEPTH} files")
    if "\0" in base_ref or Path(base_ref).is_absolute() or base_ref.startswith("~"):
        raise ConfigError(f"{path}: extends: must be a relative path inside {root} (got {base_ref!r})")
    base_path = (path.parent / base_ref).resolve()
    if not base_path.is_relative_to(root):
        raise ConfigError(f"{path}: extends: {base_ref!r} is outside the hypothesis file's folder {root}")
    if base_path in seen or base_path == path.resolve():
        raise ConfigError(f"{path}: extends: {base_ref!r} extends itself (a cycle)")
    try:
        base_raw = read_yaml_mapping(base_path)
    except ConfigError as exc:
        raise ConfigError(f"{path}: extends: {exc}") from exc
    base = _resolve_extends(base_path, base_raw, depth + 1, root, (*seen, path.resolve()))
    return _deep_merge(base, raw)


def _set_dotted(target: dict[str, Any], dotted: str, value: Any, source: str) -> None:
    parts = dotted.split(".")
    if not all(parts):
        raise ConfigError(f"{source}: grid.{dotted}: not a dotted field path such as target.holding_period")
    node = target
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{source}: grid.{dotted}: {part} is not a section")
    node[parts[-1]] = value


def _expand(raw: dict[str, Any], source: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    matrix_raw = {key: raw.pop(key) for key in MATRIX_KEYS if key in raw}
    if not matrix_raw:
        return [(raw, {})]
    try:
        matrix = MatrixSpec(**matrix_raw)
    except ValidationError as exc:
        raise ConfigError(source, format_validation_error(exc, source)) from exc
    axes: list[tuple[str, list[Any]]] = []
    data = raw.get("data")
    if matrix.symbols and isinstance(data, dict) and data.get("source") == "file":
        raise ConfigError(f"{source}: symbols: a file source holds one series; write one hypothesis per file")
    if matrix.symbols:
        axes.append(("data.symbol", list(matrix.symbols)))
    if matrix.timeframes:
        axes.append(("data.timeframe", list(matrix.timeframes)))
    for dotted, values in (matrix.grid or {}).items():
        if not values:
            raise ConfigError(f"{source}: grid.{dotted}: must list at least one value")
        axes.append((dotted, list(values)))
    total = math.prod(len(values) for _, values in axes)
    if total > MAX_EXPANSION:
        keys = " x ".join(key for key in MATRIX_KEYS if key in matrix_raw)
        raise ConfigError(f"{source}: {keys}: expands to {total} experiments, more than the cap of {MAX_EXPANSION}")
    expanded = []
    for combination in itertools.product(*(values for _, values in axes)):
        concrete = copy.deepcopy(raw)
        concrete.setdefault("data", {})
        choice = {}
        for (dotted, _), value in zip(axes, combination, strict=True):
            _set_dotted(concrete, dotted, value, source)
            choice[dotted] = value
        expanded.append((concrete, choice))
    return expanded


def load_experiments(path: str | Path) -> list[ExperimentConfig]:
    """Load one experiment file into one config, or several when it declares a matrix."""
    path = Path(path)
    source = str(path)
    raw = _resolve_extends(path, read_yaml_mapping(path))
    from pipeline.config._policy import apply_policy, load_policy

    policy = load_policy()
    configs = []
    errors: list[str] = []
    for concrete, choice in _expand(raw, source):
        if choice:
            concrete["expansion"] = choice
        label = source if not choice else f"{source} [{', '.join(f'{k}={v}' for k, v in choice.items())}]"
        try:
            config = ExperimentConfig(**concrete)
        except ValidationError as exc:
            errors.extend(format_validation_error(exc, label))
            continue
        try:
            configs.append(config.model_copy(update={"gate": apply_policy(config.gate, label, policy)}))
        except ConfigError as exc:
            errors.append(str(exc))
    if errors:
        raise ConfigError(errors[0], errors)
    return configs


def load_experiment(path: str | Path) -> ExperimentConfig:
    """Load a file that must describe exactly one experiment."""
    configs = load_experiments(path)
    if len(configs) != 1:
        raise ConfigError(f"{path}: expands to {len(configs)} experiments; run it with `quantgate sweep`")
    return configs[0]


def config_hash(config: ExperimentConfig) -> str:
    """Stable hash of everything that defines the experiment (order-independent, 16 hex chars)."""
    payload = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def flatten_config(config: ExperimentConfig) -> dict[str, str]:
    """Flatten to dotted keys, e.g. ``target.holding_period``, for MLflow params."""
    flat: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            flat[prefix] = json.dumps(value) if isinstance(value, list | dict) else str(value)

    walk("", config.model_dump(mode="json"))
    return flat


def json_schema() -> dict[str, Any]:
    """The JSON schema of an experiment file (for editors and `quantgate schema`)."""
    schema = ExperimentConfig.model_json_schema()
    schema["title"] = "quantgate experiment"
    schema["properties"].pop("expansion", None)
    matrix = MatrixSpec.model_json_schema()
    schema.setdefault("$defs", {})
    for key in MATRIX_KEYS:
        schema["properties"][key] = matrix["properties"][key]
    schema["properties"]["extends"] = {"type": "string", "description": "Path of a base file to merge over."}
    return schema
