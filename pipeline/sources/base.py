"""The one interface every market-data source implements, and the registry that finds them.

A source is one module ``pipeline/sources/<name>.py`` holding a :class:`BarSource` subclass decorated with
:func:`register_source`. Everything particular to the source lives in that module: its base URL and the
variable that overrides it (``url_variable``, ``default_url``), the environment variables holding its keys
(``key_variables``, scrubbed from every error message) and its symbol and timeframe notation. Nothing else
lists sources: :func:`get_source` imports ``pipeline.sources.<name>`` on demand (so importing quantgate never
pays for every client library), and :func:`source_names` imports each public module of the package once to
list what registered. Adding a source therefore means adding one file (``tests/sources/test_new_source_one_module.py``
shows it).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
from abc import ABC, abstractmethod
from typing import Any, ClassVar, TypeVar

import pandas as pd

from pipeline.errors import SourceError
from pipeline.timeframes import AssetClass

S = TypeVar("S", bound="type[BarSource]")


class BarSource(ABC):
    """Fetches bars of one symbol/timeframe/window and returns them in canonical form.

    Implementations return a frame indexed by UTC bar-open ``ts`` with float ``open, high, low,
    close, volume`` columns (``volume`` NaN where the source has none), covering the half-open
    window ``start <= ts < end`` (:mod:`pipeline.window`). Transient failures are retried inside; permanent ones raise
    :class:`SourceError` with a one-line message naming source, symbol and window (never a key).
    """

    name: ClassVar[str]
    asset_class: ClassVar[AssetClass]
    #: Whether this source's volume is the market's full volume (False for partial-volume feeds).
    volume_reliable: ClassVar[bool] = True
    #: The service's base URL, and the environment variable that overrides it (network sources only).
    default_url: ClassVar[str | None] = None
    url_variable: ClassVar[str | None] = None
    #: Environment variables holding this source's keys and secrets: never shown in any message.
    key_variables: ClassVar[tuple[str, ...]] = ()
    #: Position in listings and messages (lower first, ties by name); new sources list after the built-in ones.
    listing_rank: ClassVar[int] = 100

    @abstractmethod
    def fetch(self, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Bars with ``start <= ts < end`` (both UTC instants)."""

    def symbols(self) -> list[str] | None:
        """Symbols this source knows, where it can list them cheaply; None when it cannot."""
        return None

    @classmethod
    def base_url(cls) -> str:
        """Base URL of the service: ``url_variable``'s value, else ``default_url``; no trailing slash."""
        if cls.default_url is None:
            raise SourceError(f"{cls.name}: not a network source (no default_url)")
        configured = os.environ.get(cls.url_variable, "") if cls.url_variable else ""
        return (configured or cls.default_url).rstrip("/")


_REGISTRY: dict[str, type[BarSource]] = {}


def register_source(cls: S) -> S:
    """Class decorator: make ``cls`` findable as ``get_source(cls.name)``.

    Registering a second, different class under a taken name is an error (a module re-imported under the
    same path replaces its own entry).
    """
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name.isidentifier():
        raise SourceError(f"{cls.__module__}.{cls.__qualname__}: a source needs a name that is an identifier")
    existing = _REGISTRY.get(name)
    if existing is not None and (existing.__module__, existing.__qualname__) != (cls.__module__, cls.__qualname__):
        raise SourceError(
            f"data source {name!r} is registered twice: {existing.__module__}.{existing.__qualname__} "
            f"and {cls.__module__}.{cls.__qualname__}"
        )
    _REGISTRY[name] = cls
    return cls


def _source_modules() -> list[str]:
    """Public modules of the ``pipeline.sources`` package (every folder on its ``__path__``)."""
    import pipeline.sources as package

    return sorted({m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")})


def _discover() -> None:
    """Import every public module of ``pipeline.sources``; each source registers itself on import."""
    for module in _source_modules():
        importlib.import_module(f"pipeline.sources.{module}")


def _registered(name: str) -> type[BarSource]:
    if name not in _REGISTRY and name.isidentifier():
        if importlib.util.find_spec(f"pipeline.sources.{name}") is not None:
            importlib.import_module(f"pipeline.sources.{name}")
        if name not in _REGISTRY:
            _discover()  # a source may live in a module named otherwise
    if name not in _REGISTRY:
        raise SourceError(f"unknown data source {name!r}; known: {', '.join(source_names())}")
    return _REGISTRY[name]


def source_names() -> list[str]:
    """Names of every source, in listing order (``listing_rank``, then name)."""
    _discover()
    return sorted(_REGISTRY, key=lambda n: (_REGISTRY[n].listing_rank, n))


def source_class(name: str) -> type[BarSource]:
    """The registered class of source ``name`` (imports its module; SourceError naming the known ones)."""
    return _registered(name)


def get_source(name: str, **options: Any) -> BarSource:
    """An instance of the source called ``name``.

    ``options`` go to the source's constructor: the ``file`` source takes ``path``.
    """
    return _registered(name)(**options)


def source_asset_class(name: str) -> AssetClass:
    """Asset class a source serves (equity or crypto), without constructing a client."""
    return _registered(name).asset_class


def key_variables() -> tuple[str, ...]:
    """Every registered source's key variables (for scrubbing secrets from messages)."""
    _discover()
    return tuple(dict.fromkeys(v for cls in _REGISTRY.values() for v in cls.key_variables))
