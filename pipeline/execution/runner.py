"""Set a strategy's session up from its trading file and run one cycle for the last closed bar (``--once``)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from pipeline.execution.brokers import make_broker
from pipeline.execution.cycle import closed_bars, resolve_model, run_cycle
from pipeline.execution.ledger import Ledger
from pipeline.execution.paper import PaperBroker
from pipeline.execution.production import PinnedModel
from pipeline.execution.session import NO_MODEL, CycleResult, TradingSession, risk_engine
from pipeline.execution.trading_file import TradingFile
from pipeline.timeframes import bar_length


def open_session(
    trading: TradingFile,
    *,
    timeframe: str,
    fee_bps: float,
    slippage_bps: float,
    strategy: str | None = None,
    anchor: dt.datetime | None = None,
    db_url: str | None = None,
    simulate: bool = False,
    asset_class: str | None = None,
) -> TradingSession:
    """Ledger, broker and risk rules of one strategy (``simulate``: a paper account whatever the file says).

    A session is kept per process and reused by later cycles with the same file and settings, so a warm
    process does not rebuild its broker and risk rules, and keeps the decisions already predicted (a held
    decision is never predicted again). Everything a session knows about orders and positions lives in
    the database; only the current bar and those decisions are held in memory.
    """
    from pipeline.store import ensure_schema

    engine = ensure_schema(db_url)
    strategy = strategy or trading.name
    start = anchor or dt.datetime.combine(trading.start or dt.date.today(), dt.time(), dt.UTC)
    key = (trading.model_dump_json(), strategy, start, str(engine.url), timeframe, fee_bps, slippage_bps, simulate)
    if key in _sessions:
        return _sessions[key]
    if simulate or trading.broker == "paper":
        broker = PaperBroker(engine, strategy, trading.capital, trading.fill_model, fee_bps, slippage_bps)
    else:
        broker = make_broker(trading, asset_class)
    session = TradingSession(trading, Ledger(engine), broker, strategy, start, risk_engine(trading, timeframe))
    if len(_sessions) >= MAX_SESSIONS:
        _sessions.pop(next(iter(_sessions)))
    _sessions[key] = session
    return session


MAX_SESSIONS = 64
_sessions: dict[tuple, TradingSession] = {}


def symbols_of(trading: TradingFile, model: PinnedModel | None, fallback: str | None = None) -> list[str]:
    """The file's symbols, else the model's own."""
    if trading.symbols:
        return list(trading.symbols)
    if model is not None:
        return [model.config.data.symbol]
    return [fallback] if fallback else []


def first_decision(model: PinnedModel, now: dt.datetime) -> dt.datetime:
    """The earliest bar a cycle at ``now`` may have to decide on (the last decision bar of the holding grid)."""
    bars = max(10, model.config.target.holding_period + 1)
    return (pd.Timestamp(now) - bars * bar_length(model.config.data.timeframe)).to_pydatetime()


def load_bars(
    model: PinnedModel,
    symbols: list[str],
    first: dt.datetime,
    last: dt.date,
    anchor: dt.datetime | None = None,
) -> dict[str, pd.DataFrame]:
    """Bring bars up to date in the store (ingesting what is missing) and read them, with feature history.

    The window starts early enough for the model's warm-up and the EWM margin before ``first`` (the first
    bar to decide on), and no later than ``anchor`` (the decision rule reads every bar since the strategy's
    anchor). Every bar of the window must have passed the data-quality suite of the model's asset class:
    the stored verdicts (:mod:`pipeline.quality.verdicts`, written where bars are ingested) are checked,
    and only bars without one are validated now (``DataQualityError`` when they fail).
    """
    from pipeline.experiment.data import load_experiment_bars
    from pipeline.quality.verdicts import check_window

    days = model.history_bars * bar_length(model.config.data.timeframe) * (1.6 if model.asset_class == "equity" else 1)
    begin = pd.Timestamp(first) - max(days, pd.Timedelta(days=1))
    if anchor is not None:
        begin = min(begin, pd.Timestamp(anchor))
    start = begin.date()
    out = {}
    for symbol in symbols:
        data = model.config.data.model_copy(update={"symbol": symbol, "start": start, "end": last})
        bars = load_experiment_bars(data).bars
        what = f"{symbol} {data.timeframe} (trading window)"
        check_window(bars, symbol=symbol, timeframe=data.timeframe, asset_class=model.asset_class, what=what)
        out[symbol] = bars
    return out


def trade_once(
    trading: TradingFile, now: dt.datetime | None = None, db_url: str | None = None, track: bool = True
) -> CycleResult:
    """Run one cycle of ``trading`` for the last bar closed at ``now`` (default: the current time).

    With ``track``, the cycle is also a step of its trading day's MLflow run (after the orders are sent),
    with or without a Production version.
    """
    from pipeline.tracking import configure_mlflow

    configure_mlflow()
    now = now or dt.datetime.now(dt.UTC)
    model = resolve_model(trading)
    if model is None:
        session, bars, result = no_model_cycle(trading, now, db_url)
    else:
        costs, timeframe = model.config.costs, model.config.data.timeframe
        session = open_session(
            trading,
            timeframe=timeframe,
            fee_bps=costs.fee_bps,
            slippage_bps=costs.slippage_bps,
            db_url=db_url,
            asset_class=model.asset_class,
        )
        first = first_decision(model, now)
        bars = load_bars(model, symbols_of(trading, model), first, now.date(), anchor=session.anchor)
        result = run_cycle(session, now, bars, model, timeframe, model.asset_class)
    if track:
        from pipeline.execution.tracking import log_cycle

        log_cycle(session, result, bars, db_url, at=now)
    return result


def no_model_cycle(
    trading: TradingFile, now: dt.datetime, db_url: str | None = None
) -> tuple[TradingSession, dict[str, pd.DataFrame], CycleResult]:
    """Without a Production version: flatten what the account holds (or hold), per ``on_no_model``.

    Returns the session, the closed daily bars of the symbols held (what the account is marked at) and the
    cycle's result.
    """
    from pipeline.store import BarStore

    session = open_session(trading, timeframe="1d", fee_bps=0.0, slippage_bps=0.0, db_url=db_url)
    held = session.broker.positions()
    store = BarStore(db_url)
    bars = {s: closed_bars(store.load(s, "1d", end=now), now, "1d") for s in held}
    if trading.on_no_model == "hold" or not held:
        cash = session.broker.account().cash
        return session, bars, CycleResult(None, NO_MODEL, {}, [], cash, skipped="no Production version")
    return session, bars, run_cycle(session, now, bars, None, "1d", "equity")
