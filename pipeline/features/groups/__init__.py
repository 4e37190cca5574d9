"""Built-in feature groups; importing this package registers them.

Every built-in is strictly causal: the value at bar ``t`` uses bars ``<= t`` only (rolling windows that end
at ``t``, differences with the past, exponential averages that run forward). None fills backwards.
"""

from __future__ import annotations

from pipeline.features.groups import calendar, mean_reversion, returns, trend, volatility, volume

__all__ = ["calendar", "mean_reversion", "returns", "trend", "volatility", "volume"]
