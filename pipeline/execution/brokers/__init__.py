"""Venue adapters behind :class:`pipeline.execution.broker.Broker`: one module per venue, driven through the
venue's official client with its base-URL setting (so tests run against local fakes on 127.0.0.1).

- :mod:`.binance`: spot crypto through ``python-binance``.
- :mod:`.alpaca`: equities and crypto through ``alpaca-py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.errors import ExecutionError
from pipeline.execution.brokers._common import Deadline, VenueKeys, call_with_deadline, keys_for, set_block_reader

if TYPE_CHECKING:
    from pipeline.execution.broker import Broker
    from pipeline.execution.trading_file import TradingFile

__all__ = ["Deadline", "VenueKeys", "call_with_deadline", "keys_for", "make_broker", "set_block_reader"]


def _asset_class_of(symbols: list[str]) -> str:
    from pipeline.sources.symbols import split_pair

    try:
        for symbol in symbols:
            split_pair(symbol)
    except ValueError:
        return "equity"
    return "crypto"


def make_broker(trading: TradingFile, asset_class: str | None = None) -> Broker:
    """The venue adapter a trading file names (``alpaca`` or ``binance``; ``paper`` is built by the runner).

    Keys come from the file's ``credentials`` (environment variables or Prefect Secret blocks; default: the
    adapter's own variables), base URLs from the environment (see each adapter). A venue needs the file's ``symbols``.
    """
    if not trading.symbols:
        raise ExecutionError(f"trading file {trading.name}: broker {trading.broker} needs a symbols list")
    symbols = list(trading.symbols)
    if trading.broker == "binance":
        import os

        from pipeline.execution.brokers.binance import DEFAULT_URL, KEY_ENV, SECRET_ENV, URL_ENV, BinanceBroker

        url = os.environ.get(URL_ENV, "").strip().rstrip("/")
        if trading.mode != "live" and url in ("", DEFAULT_URL):  # Binance has no paper flag: the URL decides
            raise ExecutionError(
                f"trading file {trading.name}: mode paper with broker binance needs {URL_ENV} set to a testnet or "
                f"simulator; {DEFAULT_URL} is the live venue"
            )
        keys = keys_for("binance", trading.credentials, KEY_ENV, SECRET_ENV)
        return BinanceBroker(symbols, keys=keys)
    if trading.broker == "alpaca":
        from pipeline.execution.brokers.alpaca import KEY_ENV, SECRET_ENV, AlpacaBroker

        kind = asset_class or _asset_class_of(symbols)
        keys = keys_for("alpaca", trading.credentials, KEY_ENV, SECRET_ENV)
        return AlpacaBroker(
            symbols, asset_class="crypto" if kind == "crypto" else "equity", paper=trading.mode != "live", keys=keys
        )
    raise ExecutionError(f"trading file {trading.name}: unknown broker {trading.broker!r}")
