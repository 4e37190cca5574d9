"""The registry of feature groups and the ``@feature_group`` decorator.

A feature group is a plain function ``fn(bars, **params) -> DataFrame`` that returns feature columns on the
index of ``bars``. Decorating it with ``@feature_group("name", warmup=N)`` registers it under ``name``; its
keyword parameters and their defaults come from its signature, and the experiment YAML
(``features.params``) overrides them. Plugin modules named in ``features.plugins`` register further groups
when :func:`load_plugins` imports them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import inspect
import math
import sysconfig
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import FeatureError, first_line

GroupFunc = Callable[..., pd.DataFrame]
LastRowFunc = Callable[..., Mapping[str, float]]
Warmup = int | Callable[[Mapping[str, Any]], int]

_REGISTRY: dict[str, FeatureGroup] = {}
_BUILTINS_MODULE = "pipeline.features.groups"


@dataclass(frozen=True)
class BarArrays:
    """The bars a last-row path reads: the canonical OHLCV columns as float64 numpy arrays, oldest first.

    Attributes
    ----------
    index : DatetimeIndex
        The bars' ``ts`` (open times).
    open, high, low, close, volume : ndarray
        Contiguous float64 arrays, one value per bar.
    """

    index: pd.DatetimeIndex
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    @classmethod
    def from_frame(cls, ohlcv: pd.DataFrame) -> BarArrays:
        """Build the arrays of a frame's numeric OHLCV columns (no copy where a column already is float64)."""
        cols = {c: np.ascontiguousarray(ohlcv[c].to_numpy(dtype="float64", na_value=np.nan)) for c in _OHLCV}
        return cls(index=pd.DatetimeIndex(ohlcv.index), **cols)

    def __len__(self) -> int:
        return len(self.close)


_OHLCV = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class FeatureGroup:
    """One registered feature group.

    Attributes
    ----------
    name : str
        Registry name; also the prefix of every column the group produces (``<name>_...``).
    func : callable
        ``func(bars, **params) -> DataFrame``.
    warmup : int or callable
        Leading bars whose values are not yet meaningful, or a function of the resolved params returning it.
    uses_volume : bool
        Whether any column depends on ``volume`` (such groups are left out of the default crypto set).
    last_row : callable or None
        ``last_row(bars: BarArrays, **params) -> {column: value}``: the group's values at the last bar only,
        the same as the last row of ``func`` (registered with :func:`feature_last_row`); ``None`` when the
        group has none (:meth:`FeaturePipeline.transform_last` then runs ``func`` on the bars).
    """

    name: str
    func: GroupFunc
    warmup: Warmup
    uses_volume: bool
    last_row: LastRowFunc | None = None

    @property
    def defaults(self) -> dict[str, Any]:
        """Return the keyword parameters of the group with their signature defaults."""
        params = list(inspect.signature(self.func).parameters.values())[1:]
        return {
            p.name: p.default
            for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.default is not p.empty
        }

    def resolve_params(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Merge ``overrides`` into the signature defaults and return JSON-safe params.

        Raises
        ------
        FeatureError
            If a parameter is unknown, a required one is missing, or a value is not JSON-safe.
        """
        overrides = dict(overrides or {})
        params = list(inspect.signature(self.func).parameters.values())[1:]
        accepts_any = any(p.kind is p.VAR_KEYWORD for p in params)
        named = {p.name: p for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        unknown = sorted(set(overrides) - set(named))
        if unknown and not accepts_any:
            known = ", ".join(named) or "none"
            raise FeatureError(
                f"features.params.{self.name}: unknown parameter(s) {', '.join(unknown)}; known: {known}"
            )
        resolved: dict[str, Any] = {}
        for pname, param in named.items():
            if pname in overrides:
                resolved[pname] = overrides[pname]
            elif param.default is not param.empty:
                resolved[pname] = param.default
            else:
                raise FeatureError(f"features.params.{self.name}: required parameter {pname} is missing")
        for pname in unknown:
            resolved[pname] = overrides[pname]
        return {key: _json_safe(value, f"features.params.{self.name}.{key}") for key, value in resolved.items()}

    def warmup_for(self, params: Mapping[str, Any]) -> int:
        """Return the warm-up length (in bars) of this group under ``params``."""
        try:
            value = self.warmup(params) if callable(self.warmup) else self.warmup
            value = int(value)
        except Exception as exc:  # any failure of user code becomes a FeatureError
            raise FeatureError(
                f"feature group {self.name}: warmup cannot be computed: {type(exc).__name__}: {first_line(exc)}"
            ) from exc
        if value < 0:
            raise FeatureError(f"feature group {self.name}: warmup must be >= 0, got {value}")
        return value

    def source_hash(self) -> str:
        """Return the SHA-256 of the group's code: its function (decorator included) and the helpers it uses,
        then its last-row path and that path's helpers when it has one.

        Helpers are the functions and modules the group names that come from its own package (e.g. a
        shared ``_ops`` module), so editing a helper changes the hash just as editing the group does; editing
        the last-row path (what trading computes) changes it too.
        """
        digest = hashlib.sha256(_source_of(self.func).encode("utf-8"))
        for helper in _own_helpers(self.func):
            digest.update(_source_of(helper).encode("utf-8"))
        if self.last_row is not None:
            digest.update(b"\0last_row\0" + _source_of(self.last_row).encode("utf-8"))
            for helper in _own_helpers(self.last_row):
                digest.update(_source_of(helper).encode("utf-8"))
        return digest.hexdigest()

    def compute(self, bars: pd.DataFrame, params: Mapping[str, Any]) -> pd.DataFrame:
        """Run the group on ``bars`` and return validated float64 columns named ``<group>_...``.

        Raises
        ------
        FeatureError
            If the function fails, or returns something other than numeric columns on ``bars.index``.
        """
        try:
            out = self.func(bars, **params)
        except Exception as exc:  # any failure of user code becomes a FeatureError
            raise FeatureError(f"feature group {self.name} failed: {type(exc).__name__}: {first_line(exc)}") from exc
        return _validate_output(self.name, out, bars.index)

    def compute_last(self, bars: BarArrays, params: Mapping[str, Any]) -> dict[str, float]:
        """Run the group's last-row path on ``bars`` and return ``{"<group>_...": value}`` in column order.

        Raises
        ------
        FeatureError
            If the group has no last-row path, the path fails, or it returns something other than a mapping of
            names to numbers.
        """
        if self.last_row is None:
            raise FeatureError(f"feature group {self.name} has no last-row path")
        try:
            out = self.last_row(bars, **params)
        except Exception as exc:  # any failure of user code becomes a FeatureError
            raise FeatureError(
                f"feature group {self.name} failed (last row): {type(exc).__name__}: {first_line(exc)}"
            ) from exc
        if not isinstance(out, Mapping) or not out:
            raise FeatureError(
                f"feature group {self.name}: last-row path returned {type(out).__name__}, expected a mapping"
            )
        prefix = f"{self.name}_"
        row: dict[str, float] = {}
        for col, value in out.items():
            name = str(col) if str(col).startswith(prefix) else prefix + str(col)
            if name in row:
                raise FeatureError(f"feature group {self.name}: last-row path returned duplicate column {name}")
            try:
                row[name] = float(value)
            except (TypeError, ValueError):
                raise FeatureError(
                    f"feature group {self.name}: last-row path returned a non-numeric value for {name}"
                ) from None
        return row


def _source_of(obj: Any) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        code = getattr(obj, "__code__", None)
        if code is None:
            return repr(obj)
        return code.co_code.hex() + repr(code.co_consts) + repr(code.co_names)


_LIBRARY_DIRS = tuple(
    {str(Path(p).resolve()) for key in ("stdlib", "platstdlib", "purelib", "platlib") if (p := sysconfig.get_path(key))}
)


def _is_user_code(obj: Any) -> bool:
    """Whether ``obj`` (a function or module) is defined in a source file outside the stdlib and site-packages."""
    try:
        path = inspect.getsourcefile(obj)
    except TypeError:
        return False
    if not path:
        return False
    resolved = str(Path(path).resolve())
    return not resolved.startswith(_LIBRARY_DIRS)


def _own_helpers(func: Callable[..., Any]) -> list[Any]:
    """Functions and modules of user code (not libraries) that ``func`` refers to, in name order."""
    helpers = []
    for name in sorted(set(func.__code__.co_names)):
        obj = func.__globals__.get(name)
        if obj is None or obj is func:
            continue
        if (inspect.ismodule(obj) or inspect.isfunction(obj)) and _is_user_code(obj):
            helpers.append(obj)
    return helpers


def _json_safe(value: Any, where: str) -> Any:
    """Return ``value`` as JSON-safe data (tuples become lists); reject anything else."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        if not math.isfinite(float(value)):
            raise FeatureError(f"{where}: must be a finite number, got {value!r}")
        return float(value)
    if isinstance(value, list | tuple):
        return [_json_safe(item, where) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _json_safe(item, f"{where}.{key}") for key, item in value.items()}
    raise FeatureError(f"{where}: value {value!r} of type {type(value).__name__} is not JSON-safe")


def _validate_output(name: str, out: Any, index: pd.DatetimeIndex) -> pd.DataFrame:
    if isinstance(out, pd.Series):
        out = out.to_frame(name=out.name if out.name is not None else name)
    if not isinstance(out, pd.DataFrame):
        raise FeatureError(f"feature group {name} returned {type(out).__name__}, expected a DataFrame")
    if len(out.columns) == 0:
        raise FeatureError(f"feature group {name} returned no columns")
    if not out.index.equals(index):
        raise FeatureError(
            f"feature group {name} returned {len(out)} rows on a different index than the {len(index)} bars given"
        )
    bad = [str(col) for col, dtype in out.dtypes.items() if not (_is_numeric(dtype))]
    if bad:
        raise FeatureError(f"feature group {name} returned non-numeric column(s) {', '.join(bad)}")
    prefix = f"{name}_"
    columns = [str(col) if str(col).startswith(prefix) else prefix + str(col) for col in out.columns]
    duplicated = sorted({col for col in columns if columns.count(col) > 1})
    if duplicated:
        raise FeatureError(f"feature group {name} returned duplicate column(s) {', '.join(duplicated)}")
    result = out.astype("float64")
    result.columns = columns
    return result


def _is_numeric(dtype: Any) -> bool:
    return pd.api.types.is_bool_dtype(dtype) or (
        pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype)
    )


def feature_group(name: str, *, warmup: Warmup = 0, uses_volume: bool = False) -> Callable[[GroupFunc], GroupFunc]:
    """Register the decorated function as the feature group ``name``.

    Parameters
    ----------
    name : str
        Registry name (a Python identifier); prefixes every column the group returns.
    warmup : int or callable, default 0
        Leading bars to drop, or ``warmup(params) -> int`` for windows that depend on the params.
    uses_volume : bool, default False
        Mark groups whose columns depend on ``volume``; the default crypto set leaves them out.

    Returns
    -------
    callable
        A decorator that registers the function and returns it unchanged.

    Raises
    ------
    FeatureError
        If ``name`` is not an identifier, or is already taken by a different function.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise FeatureError(f"feature group name {name!r} must be a Python identifier")

    def register(func: GroupFunc) -> GroupFunc:
        if not callable(func) or not list(inspect.signature(func).parameters):
            raise FeatureError(f"feature group {name}: must be a function taking the bars DataFrame first")
        existing = _REGISTRY.get(name)
        if existing is not None and _qualified(existing.func) != _qualified(func):
            raise FeatureError(
                f"feature group {name} is already registered by {_qualified(existing.func)}; "
                f"cannot register {_qualified(func)} under the same name"
            )
        _REGISTRY[name] = FeatureGroup(name=name, func=func, warmup=warmup, uses_volume=bool(uses_volume))
        return func

    return register


def feature_last_row(name: str) -> Callable[[LastRowFunc], LastRowFunc]:
    """Register the decorated function as the last-row path of the (already registered) group ``name``.

    ``fn(bars: BarArrays, **params) -> {column: value}`` returns the group's values at the last bar of
    ``bars``: the same columns, in the same order, and the same values as the last row of the group's own
    function on the same bars, computed without the rest of the rows (what a trading cycle needs).
    :meth:`FeaturePipeline.transform_last` uses it; the group's function stays the definition, and
    ``tests/features/test_last_row.py`` checks the two against each other. Its source is part of the
    group's code hash.

    Raises
    ------
    FeatureError
        If no group ``name`` is registered.
    """

    def register(func: LastRowFunc) -> LastRowFunc:
        existing = _REGISTRY.get(name)
        if existing is None:
            raise FeatureError(f"feature group {name}: register the group before its last-row path")
        _REGISTRY[name] = dataclasses.replace(existing, last_row=func)
        return func

    return register


def _qualified(func: Callable[..., Any]) -> str:
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}"


def _ensure_builtins() -> None:
    importlib.import_module(_BUILTINS_MODULE)


def registered_groups() -> dict[str, FeatureGroup]:
    """Return a snapshot of every registered group (built-in and plugin), by name."""
    _ensure_builtins()
    return dict(sorted(_REGISTRY.items()))


def get_group(name: str) -> FeatureGroup:
    """Return the group registered as ``name``.

    Raises
    ------
    FeatureError
        If no such group is registered; the message lists the known groups.
    """
    _ensure_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise FeatureError(
            f"unknown feature group {name!r}; known groups: {known} (list plugin modules in features.plugins)"
        ) from None


def unregister_group(name: str) -> None:
    """Remove the group ``name`` from the registry (a no-op if it is not registered)."""
    _REGISTRY.pop(name, None)


def load_plugins(modules: Iterable[str]) -> None:
    """Import each plugin module so that its ``@feature_group`` functions register themselves.

    Raises
    ------
    FeatureError
        If a module cannot be imported; the message names the module.
    """
    _ensure_builtins()
    for module in modules:
        if not isinstance(module, str) or not module:
            raise FeatureError(f"features.plugins: {module!r} is not a module name")
        try:
            importlib.import_module(module)
        except FeatureError:
            raise
        except Exception as exc:  # import errors of user code of any kind
            raise FeatureError(
                f"features.plugins: cannot import {module}: {type(exc).__name__}: {first_line(exc)}"
            ) from exc
