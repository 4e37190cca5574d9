"""Acceptance: the shipped paper-mode trading files run their cycles against the local venue fakes through
the official clients, and the ledger's orders, fills and positions match the fakes' books exactly.

- ``deployments/trading/aapl_alpaca.yaml`` (equity, daily): ``quantgate trade --once`` for consecutive
  days with the module's promoted AAPL model, on the embedded sample bars, against the Alpaca fake.
- ``deployments/trading/btc_binance.yaml`` (crypto, hourly): ``quantgate trade --once`` every fourth hour
  with a crypto model trained and promoted on hourly BTCUSDT bars (``source: file``: the embedded sample
  has no crypto bars, so the series is a seeded random walk, ``tests.stubs.btc_hourly_bars``),
  against the Binance fake.

Only the model name and the anchor (``start``) of the shipped files are replaced; broker, mode, credentials,
lot size and risk limits are the shipped ones.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from pipeline.execution.model import OrderStatus, Side
from pipeline.execution.trading_file import load_trading_file
from quantgate.cli import app
from tests.fakes.alpaca_venue import AlpacaVenue
from tests.fakes.binance_venue import BinanceVenue
from tests.stubs import btc_hourly_bars

TRADING = Path(__file__).parents[3] / "deployments" / "trading"
KEY, SECRET = "planted-paper-key-0b7e", "planted-paper-secret-91c4"
runner = CliRunner()


def _shipped(file: str, folder: Path, **update: object) -> Path:
    raw = yaml.safe_load((TRADING / file).read_text())
    raw.update(update)
    path = folder / file
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.slow
def test_aapl_alpaca_daily_cycles_leave_ledger_and_alpaca_books_identical(promoted, tmp_path, monkeypatch):
    venue = AlpacaVenue(KEY, SECRET, {"AAPL": 100.0}).start()
    monkeypatch.setenv("QUANTGATE_HOME", str(promoted.home))
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    monkeypatch.setenv("QUANTGATE_ALPACA_TRADING_URL", venue.url)
    path = _shipped("aapl_alpaca.yaml", tmp_path, model=promoted.model, start="2011-01-03", name="aapl-alpaca-acc")
    assert load_trading_file(path).broker == "alpaca"
    from pipeline.sources.sample import _adjusted

    closes = _adjusted("AAPL")["close"]
    venue.cash = 45_000.0  # orders stay inside the shipped max_notional_per_order (50 000)
    try:
        for day in pd.bdate_range("2012-06-05", "2012-06-22"):  # 14 cycles, each after a daily bar closed
            venue.prices["AAPL"] = float(closes[closes.index < day.tz_localize("UTC")].iloc[-1])  # fills at the close
            result = runner.invoke(app, ["trade", str(path), "--once", "--as-of", day.isoformat(), "--json"])
            assert result.exit_code == 0, result.output
        rows = json.loads(runner.invoke(app, ["orders", "--strategy", "aapl-alpaca-acc", "--json"]).stdout)
        sent = [r for r in rows if r["status"] not in ("DENIED",)]
        assert sent, "the cycles sent no order"
        books = {o["client_order_id"]: o for o in venue.orders}
        assert len(books) == len(venue.orders)  # no duplicate at the venue
        assert sorted(books) == sorted(r["client_order_id"] for r in sent)  # every sent order, and only those
        for row in sent:
            o = books[row["client_order_id"]]
            assert (row["side"], row["symbol"]) == (o["side"].upper(), o["symbol"])
            assert row["status"] == ("FILLED" if o["status"] == "filled" else row["status"])
            assert _close(row["quantity"], float(o["qty"])) and _close(row["avg_price"], float(o["filled_avg_price"]))
        from pipeline.execution.ledger import Ledger
        from pipeline.store import get_engine

        ledger = Ledger(get_engine())
        assert ledger.net_filled("aapl-alpaca-acc") == {s: q for s, q in venue.positions.items() if q}
        assert runner.invoke(app, ["reconcile", str(path)]).exit_code == 0
        print(f"\naapl_alpaca: 14 cycles, {len(sent)} orders at the venue, ledger = books, positions {venue.positions}")
    finally:
        venue.stop()


@pytest.mark.slow
def test_btc_binance_hourly_cycles_leave_ledger_and_binance_books_identical(promoted_btc_hourly, tmp_path, monkeypatch):
    promoted = promoted_btc_hourly  # a crypto model trained on hourly BTCUSDT (source: file)
    venue = BinanceVenue(KEY, SECRET, {"BTCUSDT": 100.0}).start()
    monkeypatch.setenv("QUANTGATE_HOME", str(promoted.home))
    monkeypatch.setenv("BINANCE_API_KEY", KEY)
    monkeypatch.setenv("BINANCE_API_SECRET", SECRET)
    monkeypatch.setenv("QUANTGATE_BINANCE_URL", venue.url)
    closes = btc_hourly_bars()["close"]
    path = _shipped("btc_binance.yaml", tmp_path, model=promoted.model, start="2026-01-10", name="btc-binance-acc")
    assert load_trading_file(path).broker == "binance"
    try:
        venue.balances["USDT"] = Decimal("4000")  # orders stay inside the shipped max_notional_per_order (5000)
        hours = pd.date_range("2026-01-15T01:00", periods=25, freq="4h", tz="UTC")  # every 4th hour: drift trades
        for now in hours:
            venue.prices["BTCUSDT"] = round(float(closes[closes.index < now - pd.Timedelta(hours=1)].iloc[-1]), 2)
            as_of = now.tz_localize(None).isoformat()
            result = runner.invoke(app, ["trade", str(path), "--once", "--as-of", as_of, "--json"])
            assert result.exit_code == 0, result.output
            assert json.loads(result.stdout.strip().splitlines()[-1])["model_version"] == promoted.version
        from pipeline.execution.ledger import Ledger
        from pipeline.store import get_engine

        ledger_orders = Ledger(get_engine()).orders("btc-binance-acc")
        local = [o for o in ledger_orders if o.status is OrderStatus.REJECTED and not o.broker_order_id]
        assert all(o.reason.split(":")[0] in ("NOTIONAL_BELOW_MINIMUM", "QUANTITY_BELOW_MINIMUM") for o in local)
        orders = [o for o in ledger_orders if o.status is not OrderStatus.DENIED and o not in local]
        assert orders, "the cycles sent no order"
        assert {o.model_version for o in orders} == {promoted.version}
        books = {o["clientOrderId"]: o for o in venue.orders}
        assert len(books) == len(venue.orders)
        assert sorted(books) == sorted(o.client_order_id for o in orders)
        for order in orders:
            o = books[order.client_order_id]
            trades = [t for t in venue.trades if t["orderId"] == o["orderId"]]
            assert order.side is Side(o["side"]) and order.status is OrderStatus.FILLED and o["status"] == "FILLED"
            assert _close(order.filled_quantity, float(o["executedQty"]))
            assert _close(order.avg_price, float(o["cummulativeQuoteQty"]) / float(o["executedQty"]))
            assert _close(order.fee, sum(float(t["commission"]) for t in trades))  # fees in USDT, by trade id
        held = float(venue.balances.get("BTC", Decimal(0)))
        assert _close(Ledger(get_engine()).net_filled("btc-binance-acc").get("BTCUSDT", 0.0), held)
        assert runner.invoke(app, ["reconcile", str(path)]).exit_code == 0
        print(
            f"\nbtc_binance: {len(hours)} hourly cycles (crypto model v{promoted.version}), {len(orders)} orders at "
            f"the venue ({len(local)} refused locally by exchangeInfo filters), ledger = books, BTC {held}"
        )
    finally:
        venue.stop()


def test_shipped_venue_files_name_their_keys_and_hold_none(tmp_path):
    for name in ("aapl_alpaca.yaml", "btc_binance.yaml"):
        trading = load_trading_file(TRADING / name)
        assert trading.mode == "paper" and trading.credentials is not None and trading.credentials.key_env
        text = (TRADING / name).read_text()
        assert "key_env" in text and "secret:" not in text.replace("secret_env", "")
