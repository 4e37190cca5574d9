"""The gate policy: platform-owned floors that a hypothesis's ``gate:`` section may tighten but never loosen.

The policy lives in ``deployments/gate_policy.yaml`` (or the file ``QUANTGATE_GATE_POLICY`` names). A field a
hypothesis leaves out takes the policy's value; a field it sets must be at least as strict, otherwise the load
fails with one line naming the hypothesis file, the field and the policy floor.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from pipeline.config._models import GateConfig
from pipeline.errors import ConfigError

#: Environment variable naming another policy file (tests, teams).
POLICY_ENV = "QUANTGATE_GATE_POLICY"
#: The shipped policy: package data of :mod:`pipeline.config` (found with :mod:`importlib.resources`, so an
#: installed wheel has it); in a source checkout a link to ``deployments/gate_policy.yaml``, which this resolves to.
DEFAULT_POLICY_PATH = Path(str(resources.files("pipeline.config") / "gate_policy.yaml")).resolve()

#: How each gate field tightens: "higher" (a floor), "lower" (a ceiling) or "true" (may not be switched off).
DIRECTIONS: dict[str, Literal["higher", "lower", "true"]] = {
    "min_coverage": "higher",
    "min_holding_periods": "higher",
    "min_total_return": "higher",
    "min_sharpe": "higher",
    "win_rate_min": "higher",
    "win_rate_max": "lower",
    "require_beat_buy_and_hold": "true",
    "min_psr": "higher",
    "min_dsr": "higher",
    "max_bootstrap_pvalue": "lower",
    "bootstrap_reps": "higher",
    "leakage_cuts": "higher",
    "min_fold_consistency": "higher",
}


@dataclass(frozen=True)
class GatePolicy:
    """The loaded policy: its floors (a validated :class:`GateConfig`), where it came from and its hash."""

    floors: GateConfig
    path: str
    sha256: str


def policy_path() -> Path:
    """The policy file in force: ``QUANTGATE_GATE_POLICY`` when set, else ``deployments/gate_policy.yaml``."""
    override = os.environ.get(POLICY_ENV, "").strip()
    return Path(override) if override else DEFAULT_POLICY_PATH


def load_policy(path: Path | None = None) -> GatePolicy:
    """Read and validate the gate policy; every failure is a one-line :class:`ConfigError` naming the file."""
    from pipeline.config._messages import format_validation_error
    from pipeline.config._yaml import read_yaml_mapping

    path = path or policy_path()
    raw = read_yaml_mapping(path)
    missing = sorted(set(DIRECTIONS) - set(raw))
    try:
        floors = GateConfig(**raw)
    except ValidationError as exc:
        lines = format_validation_error(exc, str(path))
        raise ConfigError(lines[0], lines) from exc
    if missing:
        raise ConfigError(f"{path}: {missing[0]}: the gate policy must set every gate field")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return GatePolicy(floors=floors, path=str(path), sha256=digest)


def looser_than(field: str, value: object, floor: object) -> bool:
    """True when ``value`` of gate field ``field`` is less strict than the policy's ``floor``."""
    direction = DIRECTIONS[field]
    if direction == "true":
        return bool(floor) and not bool(value)
    if direction == "higher":
        return value < floor  # type: ignore[operator]
    return value > floor  # type: ignore[operator]


def apply_policy(gate: GateConfig, source: str, policy: GatePolicy) -> GateConfig:
    """Return ``gate`` with unset fields taken from the policy; refuse any field set looser than its floor."""
    explicit = gate.model_fields_set
    values = {}
    for field in DIRECTIONS:
        floor = getattr(policy.floors, field)
        if field in explicit:
            value = getattr(gate, field)
            if looser_than(field, value, floor):
                word = {"higher": "below", "lower": "above", "true": "switches off"}[DIRECTIONS[field]]
                raise ConfigError(
                    f"{source}: gate.{field}: {value!r} is looser than the gate policy ({word} the floor "
                    f"{floor!r} in {policy.path}); a hypothesis may only tighten the policy"
                )
            values[field] = value
        else:
            values[field] = floor
    merged = GateConfig(**values)
    object.__setattr__(merged, "__pydantic_fields_set__", set(explicit))
    return merged
