"""Load experiment files: YAML -> (optional `extends:` base) -> matrix expansion -> validated configs.

Every failure is a :class:`ConfigError` whose lines read ``<file>: <field.path>: <message>``.

Files are read defensively: only regular files up to :data:`MAX_FILE_BYTES` are opened (a FIFO or a device
is refused before it is read), YAML anchors, aliases, merge keys and duplicate keys are refused, nesting is
capped at :data:`MAX_NESTING`, ``extends:`` may only name files inside the hypothesis file's own folder tree,
and a matrix may expand to at most :data:`MAX_EXPANSION` experiments.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import os
import stat
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pipeline.config._models import ExperimentConfig, MatrixSpec
from pipeline.errors import ConfigError, first_line

MATRIX_KEYS = ("symbols", "timeframes", "grid")
_MAX_EXTENDS_DEPTH = 5
#: Largest experiment file read, in bytes.
MAX_FILE_BYTES = 256 * 1024
#: Deepest nesting of mappings and lists in an experiment file.
MAX_NESTING = 20
#: Most experiments one file may expand to through ``symbols:``, ``timeframes:`` and ``grid:``.
MAX_EXPANSION = 256
_MERGE_TAG = "tag:yaml.org,2002:merge"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


_TYPE_MESSAGES = {
    "bool_type": "must be true or false, unquoted",
    "int_type": "must be a whole number",
    "float_type": "must be a number",
    "string_type": "must be a string",
    "finite_number": "must be a finite number",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
}


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
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} entries"
    if kind == "string_pattern_mismatch":
        return f"contains characters that are not allowed (must match {ctx.get('pattern')})"
    if kind in _TYPE_MESSAGES:
        return _TYPE_MESSAGES[kind]
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
            shown = repr(got)
            message += f" (got {shown if len(shown) <= 80 else shown[:77] + '...'})"
        lines.append(f"{source}: {loc}: {message}")
    return lines


class _Refused(yaml.MarkedYAMLError):
    """A YAML construct experiment files may not use; ``field`` is the dotted path where it occurs."""

    def __init__(self, problem: str, mark: yaml.Mark | None, field: str) -> None:
        super().__init__(problem=problem, problem_mark=mark)
        self.field = field


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors and aliases (no alias bombs) and caps nesting (no RecursionError).

    It keeps the dotted path of the node being composed, so a refusal names the field.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._trail: list[str] = []

    @property
    def field(self) -> str:
        return ".".join(self._trail) or "(top level)"

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            problem = f"alias *{event.anchor} is not allowed (use extends: to share settings)"
            raise _Refused(problem, event.start_mark, self.field)
        if getattr(event, "anchor", None) is not None:
            problem = f"anchor &{event.anchor} is not allowed (use extends: to share settings)"
            raise _Refused(problem, event.start_mark, self.field)
        if len(self._trail) >= MAX_NESTING and isinstance(event, yaml.CollectionStartEvent):
            raise _Refused(f"nested deeper than {MAX_NESTING} levels", event.start_mark, self.field)
        return super().compose_node(parent, index)

    def compose_sequence_node(self, anchor: str | None) -> yaml.SequenceNode:
        start = self.get_event()
        tag = start.tag if start.tag not in (None, "!") else self.resolve(yaml.SequenceNode, None, start.implicit)
        node = yaml.SequenceNode(tag, [], start.start_mark, None, flow_style=start.flow_style)
        while not self.check_event(yaml.SequenceEndEvent):
            self._trail.append(str(len(node.value)))
            try:
                node.value.append(self.compose_node(node, len(node.value)))
            finally:
                self._trail.pop()
        node.end_mark = self.get_event().end_mark
        return node

    def compose_mapping_node(self, anchor: str | None) -> yaml.MappingNode:
        start = self.get_event()
        tag = start.tag if start.tag not in (None, "!") else self.resolve(yaml.MappingNode, None, start.implicit)
        node = yaml.MappingNode(tag, [], start.start_mark, None, flow_style=start.flow_style)
        while not self.check_event(yaml.MappingEndEvent):
            self._trail.append("?")
            try:
                key = self.compose_node(node, None)
            finally:
                self._trail.pop()
            self._trail.append(str(key.value) if isinstance(key, yaml.ScalarNode) else "?")
            try:
                value = self.compose_node(node, key)
            finally:
                self._trail.pop()
            node.value.append((key, value))
        node.end_mark = self.get_event().end_mark
        return node


def _check_nodes(loader: _StrictLoader, node: yaml.Node, path: Path, trail: tuple[str, ...] = ()) -> None:
    """Refuse duplicate, merge (``<<``) and non-scalar keys, unknown tags and impossible dates, naming the field."""
    field = ".".join(trail) or "(top level)"
    line = node.start_mark.line + 1
    if node.tag not in _StrictLoader.yaml_constructors or node.tag == _MERGE_TAG:
        raise ConfigError(f"{path}: {field}: tag {node.tag} is not allowed (line {line})")
    if isinstance(node, yaml.ScalarNode):
        try:  # a scalar its tag cannot hold (2020-13-45, !!int abc) fails here, naming the field
            _StrictLoader.yaml_constructors[node.tag](loader, node)
        except (ValueError, TypeError, ArithmeticError, LookupError, yaml.YAMLError) as exc:
            what = "a valid date" if node.tag == _TIMESTAMP_TAG else f"a valid {node.tag.rsplit(':', 1)[-1]}"
            raise ConfigError(f"{path}: {field}: {node.value!r} is not {what} (line {line})") from exc
        return
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _check_nodes(loader, item, path, (*trail, str(index)))
        return
    seen: dict[str, int] = {}
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        if key_node.tag == _MERGE_TAG:
            raise ConfigError(f"{path}: {field}: merge key << is not allowed (line {line}); use extends:")
        if not isinstance(key_node, yaml.ScalarNode):
            raise ConfigError(f"{path}: {field}: keys must be plain names (line {line})")
        _check_nodes(loader, key_node, path, trail)
        key = str(key_node.value)
        if key in seen:
            raise ConfigError(f"{path}: {'.'.join((*trail, key))}: duplicate key (lines {seen[key]} and {line})")
        seen[key] = line
        _check_nodes(loader, value_node, path, (*trail, key))


def _read_text(path: Path) -> str:
    """Read a regular file of at most MAX_FILE_BYTES; FIFOs, devices and sockets are refused unopened."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.__class__.__name__})") from exc
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"{path}: is a directory, not an experiment file")
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{path}: not a regular file (a FIFO, device or socket); refusing to read it")
    if info.st_size > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: file is {info.st_size} bytes, more than the {MAX_FILE_BYTES // 1024} KiB cap")
    try:
        # O_NONBLOCK: should the path be swapped for a FIFO after the stat, opening it still cannot hang.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.__class__.__name__})") from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConfigError(f"{path}: not a regular file (a FIFO, device or socket); refusing to read it")
        data = os.read(fd, MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.__class__.__name__})") from exc
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: file is larger than the {MAX_FILE_BYTES // 1024} KiB cap")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot be read (not UTF-8 text)") from exc


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping; every failure names the file."""
    text = _read_text(path)
    loader: _StrictLoader | None = None
    try:
        loader = _StrictLoader(text)  # the reader refuses control characters here
        node = loader.get_single_node()
        if node is not None:
            _check_nodes(loader, node, path)
        raw = loader.construct_document(node) if node is not None else None
    except _Refused as exc:
        mark = exc.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise ConfigError(f"{path}: {exc.field}: {exc.problem}{where}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or first_line(exc)
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from exc
    except RecursionError as exc:  # belt and braces: MAX_NESTING stops this first
        raise ConfigError(f"{path}: nested too deeply") from exc
    finally:
        if loader is not None:
            loader.dispose()
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
