"""Child process of the kill tests: write one order intent to the ledger and submit it as the cycle does.

``python -m tests.execution.brokers._kill_child STRATEGY BROKER SYMBOL BAR_ISO`` (database, keys and venue
URL from the environment). The parent kills it at a scripted point.
"""

from __future__ import annotations

import datetime as dt
import sys

from pipeline.execution.broker import MarketBar
from pipeline.execution.model import OrderIntent, Side
from pipeline.execution.orders import submit
from pipeline.execution.runner import open_session
from pipeline.execution.trading_file import TradingFile


def main(strategy: str, broker: str, symbol: str, bar_iso: str) -> None:
    trading = TradingFile.model_validate(
        {"name": strategy, "model": "m", "broker": broker, "symbols": [symbol], "lot_size": 0.0001}
    )
    session = open_session(trading, timeframe="1d", fee_bps=0.0, slippage_bps=0.0)
    bar = dt.datetime.fromisoformat(bar_iso)
    session.broker.on_bar(symbol, MarketBar(bar, 100.0, 100.0))
    intent = OrderIntent(strategy, symbol, Side.BUY, 2.0, bar, "1", 100.0, 0.1)
    order, _ = session.ledger.record_intent(intent)
    print("written", order.client_order_id, flush=True)
    submit(session, order)
    print("recorded", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:5])
