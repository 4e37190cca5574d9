"""The backtest's summary metrics as one typed, immutable object.

:class:`Metrics` has one attribute per name in :data:`METRIC_NAMES` (``metrics.sharpe``) and is also a
read-only mapping of those names (``metrics["sharpe"]``, ``dict(metrics)``, ``**metrics``), so it logs to
MLflow and feeds the gate's evidence as it is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields

METRIC_NAMES: tuple[str, ...] = (
    "total_return",
    "annual_return",
    "annual_volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "win_rate",
    "n_trades",
    "exposure",
    "buy_hold_return",
    "excess_return",
    "downside_capture",
)


@dataclass(frozen=True, eq=False)
class Metrics(Mapping[str, float]):
    """Summary metrics of one backtest, all finite (see :mod:`pipeline.backtest.engine` for definitions).

    Attributes
    ----------
    total_return, annual_return, annual_volatility : float
        Compounded, annualised and annualised-volatility of the strategy's returns after costs.
    sharpe, sortino, calmar : float
        Risk-adjusted returns (zero risk-free rate); 0.0 when undefined.
    max_drawdown : float
        Largest fall from the running peak, as a positive fraction.
    win_rate, n_trades : float
        Share of closed round trips that made money, and how many there were.
    exposure : float
        Share of bars with a position.
    buy_hold_return, excess_return, downside_capture : float
        The buy-and-hold benchmark, the strategy's return above it, and its capture of down bars.
    """

    total_return: float = 0.0
    annual_return: float = 0.0
    annual_volatility: float = 0.0
    sharpe: float = 0.0
    sortino: float = 0.0
    max_drawdown: float = 0.0
    calmar: float = 0.0
    win_rate: float = 0.0
    n_trades: float = 0.0
    exposure: float = 0.0
    buy_hold_return: float = 0.0
    excess_return: float = 0.0
    downside_capture: float = 0.0

    @classmethod
    def from_mapping(cls, values: Mapping[str, float]) -> Metrics:
        """Build from ``{name: value}``; names outside :data:`METRIC_NAMES` are an error, missing ones are 0.0."""
        unknown = sorted(set(values) - set(METRIC_NAMES))
        if unknown:
            raise KeyError(f"not backtest metrics: {', '.join(unknown)}")
        return cls(**{name: float(value) for name, value in values.items()})

    def __getitem__(self, name: str) -> float:
        if name not in _NAMES:
            raise KeyError(name)
        return getattr(self, name)

    def __iter__(self) -> Iterator[str]:
        return iter(METRIC_NAMES)

    def __len__(self) -> int:
        return len(METRIC_NAMES)

    def __repr__(self) -> str:
        return f"Metrics({', '.join(f'{name}={getattr(self, name)!r}' for name in METRIC_NAMES)})"


_NAMES = frozenset(METRIC_NAMES)
assert tuple(field.name for field in fields(Metrics)) == METRIC_NAMES
