"""The experiment schema: one frozen, validated model per YAML section.

A hypothesis is a YAML file. It is loaded once, at the edge, into :class:`ExperimentConfig`; unknown keys
are errors everywhere, and types are strict: nothing is coerced (``promote: 'yes'`` or ``fee_bps: true`` are
errors; a whole number is accepted where a decimal is expected). Defaults are chosen so that a minimal file
(name, hypothesis, data, target) is a complete, runnable experiment.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.config._xgb_params import kind_of_param, name_problem, param_problem

Timeframe = Literal["1m", "5m", "15m", "1h", "4h", "1d"]
TIMEFRAMES: tuple[str, ...] = ("1m", "5m", "15m", "1h", "4h", "1d")

DEFAULT_FEATURE_GROUPS: tuple[str, ...] = (
    "returns",
    "volatility",
    "volume",
    "trend",
    "mean_reversion",
    "calendar",
)


#: Earliest date a data window may start on.
EARLIEST_DATE = dt.date(1970, 1, 1)
#: How far past today (UTC) a data window may end.
FUTURE_MARGIN = dt.timedelta(days=7)


class Section(BaseModel):
    """Base of every section: frozen, strict about unknown keys and types, no NaN or infinity."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class DataConfig(Section):
    """Which bars the experiment uses."""

    source: str = Field("sample", description="Primary data source (sample, polygon, binance, alpaca, file, ...).")
    path: str | None = Field(
        None,
        min_length=1,
        description="source: file only: a CSV or Parquet file, relative to the hypothesis file or absolute.",
    )
    symbol: str = Field(..., min_length=1, description="Symbol in quantgate notation, e.g. AAPL or BTCUSDT.")
    timeframe: Timeframe = Field("1d", description="Bar timeframe.")
    start: dt.date = Field(..., strict=False, description="First day of data (inclusive, UTC).")
    end: dt.date = Field(..., strict=False, description="Last day of data (inclusive, UTC).")
    fallback: list[str] = Field(
        default_factory=list, description="Secondary sources that fill bars missing from the primary source."
    )
    asset_class: Literal["equity", "crypto"] | None = Field(
        None, description="Overrides the asset class the source implies (calendar, quality suite, features)."
    )

    @field_validator("start", "end", mode="before")
    @classmethod
    def _date_not_number(cls, value: Any) -> Any:
        if not isinstance(value, str | dt.date):
            raise ValueError(f"must be a date such as 2020-01-01 (got {value!r})")
        return value

    @field_validator("start", "end")
    @classmethod
    def _date_in_range(cls, value: dt.date) -> dt.date:
        day = value.date() if isinstance(value, dt.datetime) else value
        latest = dt.datetime.now(dt.UTC).date() + FUTURE_MARGIN
        if day < EARLIEST_DATE:
            raise ValueError(f"must be on or after {EARLIEST_DATE} (got {day})")
        if day > latest:
            raise ValueError(f"must be no later than {latest} (today plus {FUTURE_MARGIN.days} days; got {day})")
        return value

    @model_validator(mode="after")
    def _window_is_ordered(self) -> DataConfig:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self

    @model_validator(mode="after")
    def _path_goes_with_file_source(self) -> DataConfig:
        if self.source == "file" and self.path is None:
            raise ValueError("source: file needs path: (a CSV or Parquet file)")
        if self.source != "file" and self.path is not None:
            raise ValueError(f"path: is only read by source: file (source is {self.source!r})")
        if "file" in self.fallback:
            raise ValueError("fallback: the file source can only be the primary source")
        return self


class FeaturesConfig(Section):
    """Which feature groups build the feature matrix."""

    groups: list[str] = Field(
        default_factory=lambda: list(DEFAULT_FEATURE_GROUPS), min_length=1, description="Feature group names."
    )
    plugins: list[str] = Field(
        default_factory=list,
        description="Importable modules that register extra groups with @feature_group; list their groups too.",
    )
    params: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-group keyword parameters, e.g. {volatility: {window: 30}}."
    )


class TargetConfig(Section):
    """What the model predicts, computed over `holding_period` bars after each bar."""

    kind: Literal["binary", "multiclass", "triple_barrier"] = "binary"
    holding_period: int = Field(5, ge=1, le=10_000, description="Bars the position is held; the label horizon.")
    profit_target: float = Field(
        0.0, ge=0, description="Binary: forward return must exceed this. Triple barrier: upper barrier."
    )
    stop_loss: float | None = Field(None, gt=0, description="Triple barrier: lower barrier (positive number).")
    thresholds: list[float] | None = Field(
        None, description="Multiclass: increasing return cut points; k thresholds give k+1 ordered classes."
    )

    @model_validator(mode="after")
    def _kind_has_its_parameters(self) -> TargetConfig:
        if self.kind == "multiclass":
            if not self.thresholds:
                raise ValueError("multiclass needs thresholds (increasing return cut points)")
            if any(b <= a for a, b in zip(self.thresholds, self.thresholds[1:], strict=False)):
                raise ValueError("thresholds must be strictly increasing")
        if self.kind == "triple_barrier":
            if self.profit_target <= 0:
                raise ValueError("triple_barrier needs profit_target > 0")
            if self.stop_loss is None:
                raise ValueError("triple_barrier needs stop_loss")
        return self

    @property
    def n_classes(self) -> int:
        if self.kind == "binary":
            return 2
        if self.kind == "multiclass":
            return len(self.thresholds or []) + 1
        return 3


class ModelConfig(Section):
    """The learner. Only XGBoost today."""

    type: Literal["xgboost"] = "xgboost"
    device: Literal["auto", "cuda", "cpu"] = Field("auto", description="auto uses CUDA when a GPU is visible.")
    params: dict[str, Any] = Field(
        default_factory=dict, description="XGBoost booster parameters (max_depth, eta, subsample, ...)."
    )
    num_boost_round: int = Field(400, ge=1, le=100_000)
    early_stopping_rounds: int = Field(30, ge=1, le=100_000)
    seed: int = Field(42, ge=0, le=2**31 - 1)

    @field_validator("params")
    @classmethod
    def _known_xgboost_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        for name, value in params.items():
            problem = param_problem(name, value)
            if problem is not None:
                raise ValueError(f"{name}: {problem}")
        return params


class SearchParam(Section):
    """One dimension of an Optuna search space."""

    type: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _bounds_or_choices(self) -> SearchParam:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("categorical needs choices")
        else:
            if self.low is None or self.high is None:
                raise ValueError(f"{self.type} needs low and high")
            if self.low >= self.high:
                raise ValueError("low must be smaller than high")
            if self.log and self.low <= 0:
                raise ValueError("log scale needs low > 0")
        return self


class TuningConfig(Section):
    """Optional Optuna sweep over model parameters, scored on the validation segment only."""

    trials: int = Field(20, ge=1, le=10_000)
    metric: Literal["sharpe", "total_return", "logloss", "auc", "accuracy"] = "sharpe"
    direction: Literal["maximize", "minimize"] | None = Field(
        None, description="Defaults to minimize for logloss, maximize otherwise."
    )
    search_space: dict[str, SearchParam] = Field(default_factory=dict)
    pruning: bool = True
    seed: int = Field(42, ge=0, le=2**31 - 1)

    @field_validator("search_space")
    @classmethod
    def _known_xgboost_params(cls, space: dict[str, SearchParam]) -> dict[str, SearchParam]:
        for name, dim in space.items():
            problem = name_problem(name)
            if problem is not None:
                raise ValueError(f"{name}: {problem}")
            kind = kind_of_param(name)
            if kind == "int" and dim.type == "float":
                raise ValueError(f"{name}: an integer parameter; search it with type: int")
            if kind in {"str", "bool", "constraints"} and dim.type != "categorical":
                raise ValueError(f"{name}: not numeric; search it with type: categorical")
        return space

    timeout_s: float | None = Field(None, gt=0)


class SplitConfig(Section):
    """Chronological segments; never shuffled. Labels are computed inside each segment."""

    method: Literal["chronological", "walk_forward"] = "chronological"
    train: float = Field(0.6, gt=0, lt=1)
    validation: float = Field(0.2, gt=0, lt=1)
    test: float = Field(0.2, gt=0, lt=1)
    embargo: int | None = Field(
        None, ge=0, description="Bars dropped between segments; defaults to (and may not be below) holding_period."
    )
    folds: int = Field(5, ge=2, le=1_000, description="walk_forward: number of folds.")
    train_bars: int | None = Field(None, ge=50, description="walk_forward: training bars per fold.")
    test_bars: int | None = Field(None, ge=10, description="walk_forward: test bars per fold.")

    @model_validator(mode="after")
    def _fractions_sum_to_one(self) -> SplitConfig:
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + validation + test must sum to 1 (got {total:g})")
        return self


class StrategyConfig(Section):
    """How predictions become positions."""

    mode: Literal["long_flat", "long_short", "protect"] = "long_flat"
    long_threshold: float = Field(0.5, gt=0, lt=1, description="Go long when P(favourable) >= this.")
    short_threshold: float = Field(0.5, gt=0, lt=1, description="long_short: go short when P(adverse) >= this.")
    risk_threshold: float = Field(0.5, gt=0, lt=1, description="protect: go flat when P(adverse) >= this.")


class SizingConfig(Section):
    """Position size as a fraction of equity."""

    method: Literal["fixed", "volatility_target", "probability", "kelly"] = "fixed"
    fraction: float = Field(1.0, gt=0, le=10, description="fixed: position size as a fraction of equity.")
    target_volatility: float = Field(0.15, gt=0, description="volatility_target: annualised volatility target.")
    volatility_lookback: int = Field(20, ge=2, le=10_000)
    kelly_fraction: float = Field(0.5, gt=0, le=1, description="kelly: share of the full Kelly bet.")
    max_leverage: float = Field(1.0, gt=0, le=10, description="Cap on |position|.")


class CostsConfig(Section):
    """Trading costs, charged on every change of position."""

    fee_bps: float = Field(1.0, ge=0)
    slippage_bps: float = Field(2.0, ge=0)


class GateConfig(Section):
    """Thresholds of the three-tier gate."""

    min_coverage: float = Field(0.98, ge=0, le=1)
    min_holding_periods: int = Field(
        30,
        ge=0,
        description="Independent evidence: non-overlapping holding periods in the test window "
        "(test bars // target.holding_period). Replaces min_trades, which punished low-turnover strategies.",
    )
    min_total_return: float = 0.0
    min_sharpe: float = 0.5
    win_rate_min: float = Field(0.35, ge=0, le=1, description="Win-rate band: advisory, flags the run for review.")
    win_rate_max: float = Field(0.85, ge=0, le=1, description="Win-rate band: advisory, flags the run for review.")
    require_beat_buy_and_hold: bool = True
    min_psr: float = Field(0.95, ge=0, le=1)
    min_dsr: float = Field(0.95, ge=0, le=1)
    max_bootstrap_pvalue: float = Field(0.10, gt=0, le=1)
    bootstrap_reps: int = Field(1000, ge=100, le=1_000_000)
    leakage_cuts: int = Field(5, ge=1, le=1_000)
    min_fold_consistency: float = Field(0.6, ge=0, le=1, description="walk_forward: share of folds beating B&H.")

    @model_validator(mode="before")
    @classmethod
    def _min_trades_was_replaced(cls, data: Any) -> Any:
        if isinstance(data, dict) and "min_trades" in data:
            raise ValueError(
                "min_trades was replaced by min_holding_periods (non-overlapping holding periods in the test "
                "window, test bars // target.holding_period); remove min_trades"
            )
        return data

    @model_validator(mode="after")
    def _band_is_ordered(self) -> GateConfig:
        if self.win_rate_min > self.win_rate_max:
            raise ValueError("win_rate_min must not exceed win_rate_max")
        return self


class RegistryConfig(Section):
    """Where a gate-passing model is registered, and whether it is promoted to Production."""

    model_name: str | None = Field(None, description="Registered model name; defaults to the experiment name.")
    promote: bool = False


# MLflow's limits: tag keys up to 250 characters, values up to 8000 (kept well below, with the "user." prefix).
TagKey = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.\-/ ]+$")]
TagValue = Annotated[str, Field(max_length=5000)]
Slug = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]


class ExperimentConfig(Section):
    """One hypothesis: data, features, target, model, strategy, costs and the gate it must pass."""

    name: Slug
    hypothesis: str = Field(..., min_length=1)
    data: DataConfig
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    target: TargetConfig = Field(default_factory=TargetConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    tuning: TuningConfig | None = None
    split: SplitConfig = Field(default_factory=SplitConfig)
    strategy: StrategyConfig = Field(default_factory=StrategyConfig)
    sizing: SizingConfig = Field(default_factory=SizingConfig)
    costs: CostsConfig = Field(default_factory=CostsConfig)
    gate: GateConfig = Field(default_factory=GateConfig)
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    tags: dict[TagKey, TagValue] = Field(
        default_factory=dict, max_length=100, description="Free-form tags copied to the MLflow run."
    )
    expansion: dict[str, Any] = Field(
        default_factory=dict, description="Set by the loader: the matrix combination this experiment came from."
    )

    @field_validator("hypothesis")
    @classmethod
    def _hypothesis_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @model_validator(mode="after")
    def _no_tuning_with_walk_forward(self) -> ExperimentConfig:
        if self.tuning is not None and self.split.method == "walk_forward":
            raise ValueError(
                "tuning: cannot be combined with split.method walk_forward (tuning on one validation window and "
                "reusing it in every fold leaks into earlier folds' test windows); drop tuning: or use a single split"
            )
        return self

    @model_validator(mode="after")
    def _embargo_covers_horizon(self) -> ExperimentConfig:
        if self.split.embargo is not None and self.split.embargo < self.target.holding_period:
            raise ValueError(
                f"split.embargo ({self.split.embargo}) must be >= target.holding_period ({self.target.holding_period})"
            )
        return self

    @property
    def embargo(self) -> int:
        """Bars between segments: the configured embargo, or the holding period."""
        return self.split.embargo if self.split.embargo is not None else self.target.holding_period

    @property
    def model_name(self) -> str:
        return self.registry.model_name or self.name


class MatrixSpec(Section):
    """Optional expansion of one file into many experiments (one per combination)."""

    symbols: list[str] | None = Field(None, min_length=1)
    timeframes: list[Timeframe] | None = Field(None, min_length=1)
    grid: dict[str, list[Any]] | None = Field(
        None, description="Dotted field path -> values, e.g. {target.holding_period: [5, 10]}."
    )
