"""Read an experiment file defensively into a YAML mapping; every refusal is a one-line :class:`ConfigError`.

Only regular files up to :data:`MAX_FILE_BYTES` are opened (a FIFO or a device is refused before it is
read); YAML anchors, aliases, merge keys, duplicate keys, unknown tags and impossible scalars are refused,
naming the field; nesting is capped at :data:`MAX_NESTING`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import ConfigError, first_line

#: Largest experiment file read, in bytes.
MAX_FILE_BYTES = 256 * 1024
#: Deepest nesting of mappings and lists in an experiment file.
MAX_NESTING = 20
_MERGE_TAG = "tag:yaml.org,2002:merge"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


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
