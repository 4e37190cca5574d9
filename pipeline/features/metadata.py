"""What a fitted feature pipeline records, so that the exact same features can be rebuilt later."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import FeatureError
from pipeline.features.registry import get_group


def library_version() -> str:
    """Return the installed quantgate version (``0+unknown`` when it is not installed)."""
    try:
        return importlib.metadata.version("quantgate")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def group_hashes(groups: Iterable[str]) -> dict[str, str]:
    """Return the source hash of each named group, sorted by name."""
    return {name: get_group(name).source_hash() for name in sorted(set(groups))}


def code_hash(groups: Iterable[str]) -> str:
    """Return one SHA-256 over the sorted source hashes of ``groups`` (the feature code version)."""
    text = "\n".join(f"{name}:{digest}" for name, digest in group_hashes(groups).items())
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class FeatureMetadata:
    """Everything needed to rebuild a feature matrix: names, groups, params, warm-up and code version.

    Attributes
    ----------
    feature_names : tuple of str
        Columns of the feature matrix, in order.
    groups : tuple of str
        Feature groups, in the order their columns appear.
    params : dict
        Resolved, JSON-safe keyword params per group (signature defaults merged with overrides).
    warmup : int
        Leading bars dropped (the largest group warm-up).
    plugins : tuple of str
        Modules imported to register plugin groups.
    code_hash : str
        SHA-256 over the sorted source hashes of the groups.
    group_hashes : dict
        Source hash per group (names the groups whose code changed).
    library_version, pandas_version, numpy_version : str
        Versions the features were computed with.
    """

    feature_names: tuple[str, ...]
    groups: tuple[str, ...]
    params: dict[str, dict[str, Any]]
    warmup: int
    plugins: tuple[str, ...]
    code_hash: str
    group_hashes: dict[str, str] = field(default_factory=dict)
    library_version: str = field(default_factory=library_version)
    pandas_version: str = pd.__version__
    numpy_version: str = np.__version__

    def to_dict(self) -> dict[str, Any]:
        """Return the metadata as JSON-safe data (lists, dicts, strings and numbers)."""
        return {
            "feature_names": list(self.feature_names),
            "groups": list(self.groups),
            "params": json.loads(json.dumps(self.params)),
            "warmup": int(self.warmup),
            "plugins": list(self.plugins),
            "code_hash": self.code_hash,
            "group_hashes": dict(self.group_hashes),
            "library_version": self.library_version,
            "pandas_version": self.pandas_version,
            "numpy_version": self.numpy_version,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureMetadata:
        """Rebuild metadata written by :meth:`to_dict`.

        Raises
        ------
        FeatureError
            If a required key is missing or has the wrong type.
        """
        if not isinstance(data, Mapping):
            raise FeatureError(f"feature metadata must be a mapping, got {type(data).__name__}")
        required = ("feature_names", "groups", "params", "warmup", "plugins", "code_hash")
        missing = [key for key in required if key not in data]
        if missing:
            raise FeatureError(f"feature metadata: missing key(s) {', '.join(missing)}")
        try:
            return cls(
                feature_names=tuple(str(name) for name in data["feature_names"]),
                groups=tuple(str(name) for name in data["groups"]),
                params={str(g): dict(p) for g, p in dict(data["params"]).items()},
                warmup=int(data["warmup"]),
                plugins=tuple(str(name) for name in data["plugins"]),
                code_hash=str(data["code_hash"]),
                group_hashes={str(g): str(h) for g, h in dict(data.get("group_hashes", {})).items()},
                library_version=str(data.get("library_version", "0+unknown")),
                pandas_version=str(data.get("pandas_version", "")),
                numpy_version=str(data.get("numpy_version", "")),
            )
        except (TypeError, ValueError) as exc:
            raise FeatureError(f"feature metadata: malformed value ({type(exc).__name__}: {exc})") from exc
