"""Load experiment files: YAML -> (optional `extends:` base) -> matrix expansion -> validated configs.

Every failure is a :class:`ConfigError` whose lines read ``<file>: <field.path>: <message>``.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pipeline.config._models import ExperimentConfig, MatrixSpec
from pipeline.errors import ConfigError

MATRIX_KEYS = ("symbols", "timeframes", "grid")
_MAX_EXTENDS_DEPTH = 5


def _short_message(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required field is missing"
    if kind == "greater_than_equal":
        return f"must be >= {ctx.get('ge')}"
    if kind == "greater_than":
        return f"must be > {ctx.get('gt')}"
    if kind == "less_than_equal":
        return f"must be <= {ctx.get('le')}"
    if kind == "less_than":
        return f"must be < {ctx.get('lt')}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if kind == "value_error":
        return str(ctx.get("error", error.get("msg", "")))
    return str(error.get("msg", kind))


def format_validation_error(exc: ValidationError, source: str) -> list[str]:
    """Turn a pydantic error into one line per problem: ``source: field.path: message``."""
    lines = []
    for error in exc.errors():
        loc = ".".join(str(part) for part in error["loc"]) or "(top level)"
        got = error.get("input")
        message = _short_message(error)
        if error.get("type") not in {"missing", "extra_forbidden", "value_error"} and not isinstance(got, dict | list):
            message += f" (got {got!r})"
        lines.append(f"{source}: {loc}: {message}")
    return lines


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping; every failure names the file."""
    if not path.exists():
        raise ConfigError(f"{path}: file not found")
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory, not an experiment file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.__class__.__name__})") from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from exc
    if raw is None:
        raise ConfigError(f"{path}: file is empty")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections, got {type(raw).__name__}")
    return raw


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _resolve_extends(path: Path, raw: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    base_ref = raw.pop("extends", None)
    if base_ref is None:
        return raw
    if depth >= _MAX_EXTENDS_DEPTH:
        raise ConfigError(f"{path}: extends: chain deeper than {_MAX_EXTENDS_DEPTH} files")
    if not isinstance(base_ref, str):
        raise ConfigError(f"{path}: extends: must be a path to a base file")
    base_path = (path.parent / base_ref).resolve()
    base = _resolve_extends(base_path, read_yaml_mapping(base_path), depth + 1)
    return _deep_merge(base, raw)


def _set_dotted(target: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = target
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"grid: {dotted}: {part} is not a section")
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
    if matrix.symbols:
        axes.append(("data.symbol", list(matrix.symbols)))
    if matrix.timeframes:
        axes.append(("data.timeframe", list(matrix.timeframes)))
    for dotted, values in (matrix.grid or {}).items():
        if not values:
            raise ConfigError(f"{source}: grid.{dotted}: must list at least one value")
        axes.append((dotted, list(values)))
    expanded = []
    for combination in itertools.product(*(values for _, values in axes)):
        concrete = copy.deepcopy(raw)
        concrete.setdefault("data", {})
        choice = {}
        for (dotted, _), value in zip(axes, combination, strict=True):
            _set_dotted(concrete, dotted, value)
            choice[dotted] = value
        expanded.append((concrete, choice))
    return expanded


def load_experiments(path: str | Path) -> list[ExperimentConfig]:
    """Load one experiment file into one config, or several when it declares a matrix."""
    path = Path(path)
    source = str(path)
    raw = _resolve_extends(path, read_yaml_mapping(path))
    configs = []
    errors: list[str] = []
    for concrete, choice in _expand(raw, source):
        if choice:
            concrete["expansion"] = choice
        try:
            configs.append(ExperimentConfig(**concrete))
        except ValidationError as exc:
            label = source if not choice else f"{source} [{', '.join(f'{k}={v}' for k, v in choice.items())}]"
            errors.extend(format_validation_error(exc, label))
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
