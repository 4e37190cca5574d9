"""Find the experiments of a sweep: every YAML under a folder, matrix files expanded, bad files reported."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import ExperimentConfig, config_hash, load_experiments
from pipeline.errors import ConfigError

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class SweepItem:
    """One concrete experiment of a sweep: a file and, for matrix files, which expansion."""

    path: Path
    variant: int
    config: ExperimentConfig

    @property
    def label(self) -> str:
        if not self.config.expansion:
            return str(self.path)
        return f"{self.path} [" + ", ".join(f"{k}={v}" for k, v in self.config.expansion.items()) + "]"

    @property
    def config_hash(self) -> str:
        return config_hash(self.config)


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep will run, what it could not read, and the family its runs belong to."""

    folder: Path
    items: tuple[SweepItem, ...]
    errors: tuple[str, ...]
    family: str


def sweep_family(folder: str | Path) -> str:
    """A stable name for the runs of one sweep folder: ``<folder name>-<hash of its absolute path>``."""
    resolved = Path(folder).resolve()
    return f"{resolved.name}-{hashlib.sha256(str(resolved).encode()).hexdigest()[:8]}"


def discover(folder: str | Path) -> SweepPlan:
    """Every experiment under ``folder`` (recursively, sorted); unreadable files become error lines."""
    root = Path(folder)
    if not root.exists():
        raise ConfigError(f"{root}: folder not found")
    if not root.is_dir():
        raise ConfigError(f"{root}: is a file; run it with `quantgate run`")
    items: list[SweepItem] = []
    errors: list[str] = []
    for path in sorted(p for p in root.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file()):
        try:
            configs = load_experiments(path)
        except ConfigError as exc:
            errors.extend(exc.errors)
            continue
        items.extend(SweepItem(path, i, config) for i, config in enumerate(configs))
    return SweepPlan(root, tuple(items), tuple(errors), sweep_family(root))
