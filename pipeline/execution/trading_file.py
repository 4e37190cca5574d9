"""The trading file: one YAML per strategy under ``deployments/trading/``, loaded once into a frozen model.

It names the registered model (trading follows that model's alias ``production``), the broker, the paper
capital, the symbols, the risk limits and what to do when there is no Production version. Live trading
is refused unless the file says ``mode: live`` *and* ``QUANTGATE_ALLOW_LIVE=1`` is set.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from pipeline.errors import ExecutionError, first_line

ALLOW_LIVE_ENV = "QUANTGATE_ALLOW_LIVE"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class Credentials(_Section):
    """Where the venue's API key pair comes from: two environment variables, or two Prefect Secret blocks.

    Only names are written here, never a key. Default (no section): the adapter's own variables.
    """

    key_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Variable holding the key.")
    secret_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Variable: the secret.")
    key_block: str | None = Field(None, min_length=1, description="Prefect Secret block holding the key.")
    secret_block: str | None = Field(None, min_length=1, description="Prefect Secret block holding the secret.")

    @model_validator(mode="after")
    def _one_source(self) -> Credentials:
        env = (self.key_env is not None, self.secret_env is not None)
        block = (self.key_block is not None, self.secret_block is not None)
        if env not in ((True, True), (False, False)) or block not in ((True, True), (False, False)):
            raise ValueError("give key_env with secret_env, or key_block with secret_block")
        if env[0] == block[0]:
            raise ValueError("give either key_env/secret_env or key_block/secret_block (one source)")
        return self


class RiskLimits(_Section):
    """Pre-trade limits; a missing limit is not checked."""

    max_notional_per_order: float | None = Field(None, gt=0, description="Largest order notional (account currency).")
    max_position_notional: float | None = Field(None, gt=0, description="Largest position notional per symbol.")
    max_gross_exposure: float | None = Field(
        None, gt=0, description="Largest gross notional of all positions as a fraction of equity."
    )
    max_orders_per_day: int | None = Field(None, ge=1, description="Orders sent per strategy and session.")
    daily_loss_limit: float | None = Field(
        None, gt=0, lt=1, description="Session loss (fraction of the session's starting equity) that halts trading."
    )
    min_quantity: float | None = Field(None, gt=0, description="Smallest order quantity the venue accepts.")
    stale_after_hours: float | None = Field(
        None, gt=0, description="Refuse a bar that closed longer ago than this (default: 4 bars, 96 h for daily)."
    )
    market_hours: bool = Field(True, description="Refuse bars outside the exchange's sessions (equities).")
    no_contradictory_positions: bool = Field(True, description="Refuse taking the opposite side of another strategy.")


class Notify(_Section):
    """Where halts and failed cycles are announced: a saved Prefect notification block."""

    block: str = Field(
        ...,
        pattern=r"^[a-z0-9][a-z0-9-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="Prefect notification block as 'type-slug/name' (e.g. custom-webhook/trading-alerts).",
    )


class TradingFile(_Section):
    """One strategy: a registered model traded on one broker account."""

    name: str = Field(..., pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="Strategy id (ledger, account, MLflow).")
    model: str = Field(..., min_length=1, description="Registered model name; its alias 'production' is traded.")
    broker: Literal["paper", "alpaca", "binance"] = Field(
        "paper", description="Venue adapter: paper (simulated), alpaca (equities, crypto) or binance (spot crypto)."
    )
    mode: Literal["paper", "live"] = Field("paper", description="live also needs QUANTGATE_ALLOW_LIVE=1.")
    credentials: Credentials | None = Field(None, description="Venue keys: environment variables or Prefect blocks.")
    reconcile_tolerance: float = Field(
        0.0, ge=0, description="Position difference (quantity) ledger vs venue tolerated before halting."
    )
    capital: float = Field(100_000.0, gt=0, description="Starting cash of the paper account.")
    symbols: list[str] | None = Field(None, min_length=1, description="Symbols to trade (default: the model's own).")
    fill_model: Literal["backtest", "next_open"] = Field(
        "backtest", description="Paper fills: the backtest's assumption, or the next bar's open."
    )
    start: dt.date | None = Field(
        None, strict=False, description="First bar of the strategy: the anchor of the rebalance grid (default: today)."
    )
    lot_size: float = Field(1e-8, gt=0, description="Quantity step orders are rounded down to.")
    order_type: Literal["market", "limit"] = Field(
        "market",
        description="market, or limit: at the decision bar's close moved limit_offset_bps to the passive side; "
        "a limit order not filled by the next cycle is cancelled.",
    )
    limit_offset_bps: float = Field(
        0.0,
        ge=0,
        le=1000,
        description="order_type limit only: basis points below the close for a buy, above it for a sell (0-1000).",
    )
    on_no_model: Literal["flatten", "hold"] = Field("flatten", description="What to do without a Production version.")
    risk: RiskLimits = Field(default_factory=RiskLimits)
    notify: Notify | None = Field(None, description="Announce halts and failed cycles through a Prefect block.")

    @field_validator("limit_offset_bps")
    @classmethod
    def _offset_needs_limit_orders(cls, value: float, info: ValidationInfo) -> float:
        if value != 0 and info.data.get("order_type", "market") != "limit":
            raise ValueError("applies to order_type: limit only (order_type is market)")
        return value


def trading_schema() -> dict:
    """The JSON schema of a trading file (for editors, like ``experiments/experiment.schema.json``)."""
    return TradingFile.model_json_schema()


def check_mode(trading: TradingFile, path: str | Path) -> None:
    """Refuse ``mode: live`` unless ``QUANTGATE_ALLOW_LIVE=1``; a paper broker never trades live."""
    if trading.mode != "live":
        return
    if os.environ.get(ALLOW_LIVE_ENV) != "1":
        raise ExecutionError(f"{path}: mode is live but {ALLOW_LIVE_ENV}=1 is not set; refusing to trade live")
    if trading.broker == "paper":
        raise ExecutionError(f"{path}: mode is live but broker is paper; a live broker adapter is needed")


def load_trading_file(path: str | Path) -> TradingFile:
    """Read and validate a trading file.

    Raises
    ------
    ExecutionError
        If the file is missing, not YAML, invalid (first error named by field), or live is not allowed.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ExecutionError(f"{path}: cannot read trading file: {first_line(exc)}") from exc
    except yaml.YAMLError as exc:
        raise ExecutionError(f"{path}: not valid YAML: {first_line(exc)}") from exc
    if not isinstance(raw, dict):
        raise ExecutionError(f"{path}: a trading file is a mapping of fields")
    try:
        trading = TradingFile.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(file)"
        raise ExecutionError(f"{path}: {where}: {err['msg'].removeprefix('Value error, ')}") from exc
    check_mode(trading, path)
    return trading


if __name__ == "__main__":  # regenerate deployments/trading/trading.schema.json
    print(json.dumps(trading_schema(), indent=2))
