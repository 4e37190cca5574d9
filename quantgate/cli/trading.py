"""`quantgate trade|positions|orders|halt|resume`: paper trading of Production models (reconcile: cli/reconcile.py)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer
from rich.table import Table

from quantgate.cli._common import console, one_line_errors, quiet_orchestration, stdout_to_stderr

app = typer.Typer()


def _date(text: str, what: str) -> dt.date:
    from pipeline.errors import ExecutionError

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ExecutionError(f"{what}: expected a date YYYY-MM-DD (got {text!r})") from None


def _order_rows(orders) -> list[dict]:
    return [
        {
            "client_order_id": o.client_order_id,
            "strategy": o.strategy,
            "bar": o.bar_ts.isoformat(),
            "symbol": o.symbol,
            "side": o.side.value,
            "quantity": o.quantity,
            "status": o.status.value,
            "reason": o.reason,
            "model_version": o.model_version,
            "avg_price": o.avg_price,
            "fee": o.fee,
            "limit_price": o.limit_price,
        }
        for o in orders
    ]


@app.command("trade")
@one_line_errors
def trade(
    file: Path = typer.Argument(..., help="Trading file (deployments/trading/*.yaml)."),
    once: bool = typer.Option(False, "--once", help="Trade the last closed bar once (default)."),
    replay: tuple[str, str] | None = typer.Option(
        None, "--replay", help="START END: replay the real cycle over history and compare with the backtest."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Clock for --once (ISO UTC time): trade the last bar closed by then (catch-up, tests)."
    ),
    verbose: bool = typer.Option(False, "--verbose", help="Show orchestration logs."),
) -> None:
    """Trade a trading file's Production model on its paper broker: one cycle, or a replay with parity."""
    quiet_orchestration(verbose)
    from pipeline.errors import ExecutionError
    from pipeline.execution.trading_file import load_trading_file

    trading = load_trading_file(file)
    if replay is not None and replay[0] is not None:
        if once:
            raise ExecutionError("--once and --replay exclude each other")
        from pipeline.execution.replay import log_report
        from pipeline.execution.replay import replay as run_replay

        start, end = _date(replay[0], "--replay START"), _date(replay[1], "--replay END")
        with stdout_to_stderr() as out:
            report = run_replay(trading, start, end)
            run_id = log_report(trading, report)
        payload = {**report.to_dict(), "mlflow_run_id": run_id}
        if as_json:
            out.write(json.dumps(payload, default=str) + "\n")
            return
        p = payload["parity"]
        verdict = "[green]match[/]" if p["positions_match"] and p["returns_match"] else "[red]DIFFER[/]"
        console.print(
            f"replay {report.strategy} model v{report.model_version} ({report.fill_model} fills): {report.bars} bars, "
            f"{report.orders} orders; positions/returns vs backtest: {verdict} "
            f"(max return diff {p['max_return_diff']:.2e})"
        )
        for row in p["differences"][:50]:
            console.print(
                f"  {row['bar']}: paper {row['paper_position']:+.4f}/{row['paper_return']:+.6f} "
                f"backtest {row['backtest_position']:+.4f}/{row['backtest_return']:+.6f}"
            )
        return
    from pipeline.execution.runner import trade_once

    with stdout_to_stderr() as out:
        now = None
        if as_of is not None:
            try:
                now = dt.datetime.fromisoformat(as_of)
            except ValueError:
                raise ExecutionError(f"--as-of: expected an ISO time (got {as_of!r})") from None
            now = now.replace(tzinfo=dt.UTC) if now.tzinfo is None else now.astimezone(dt.UTC)
        result = trade_once(trading, now)
    payload = {
        "bar": result.bar_ts.isoformat() if result.bar_ts else None,
        "model_version": result.model_version,
        "targets": result.targets,
        "orders": _order_rows(result.orders),
        "skipped": result.skipped,
    }
    if as_json:
        out.write(json.dumps(payload, default=str) + "\n")
        return
    console.print(f"{trading.name}: bar {payload['bar']}, model v{result.model_version}, targets {result.targets}")
    for row in payload["orders"]:
        console.print(f"  {row['side']} {row['quantity']:g} {row['symbol']}: {row['status']} {row['reason'] or ''}")
    if result.skipped:
        console.print(f"  skipped: {result.skipped}")


def _ledger():
    from pipeline.execution.ledger import Ledger
    from pipeline.store import ensure_schema

    return Ledger(ensure_schema())


@app.command("orders")
@one_line_errors
def orders(
    since: str | None = typer.Option(None, "--since", help="Only orders decided on bars from this date."),
    strategy: str | None = typer.Option(None, "--strategy", help="Only this strategy."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the ledger's orders with status, coded reason, bar and model version."""
    start = dt.datetime.combine(_date(since, "--since"), dt.time(), dt.UTC) if since else None
    rows = _order_rows(_ledger().orders(strategy, since=start))
    if as_json:
        typer.echo(json.dumps(rows, default=str))
        return
    table = Table("bar", "strategy", "symbol", "side", "qty", "status", "reason", "model")
    for r in rows:
        table.add_row(
            r["bar"][:19],
            r["strategy"],
            r["symbol"],
            r["side"],
            f"{r['quantity']:g}",
            r["status"],
            r["reason"] or "",
            r["model_version"],
        )
    console.print(table if rows else "no orders yet")


@app.command("positions")
@one_line_errors
def positions(
    file: Path | None = typer.Argument(None, help="Trading file (default: every paper account)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show paper accounts' cash and positions (the broker's view)."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from pipeline.store import ensure_schema
    from pipeline.store.models import PaperAccount, PaperPosition

    name = None
    if file is not None:
        from pipeline.execution.trading_file import load_trading_file

        name = load_trading_file(file).name
    engine = ensure_schema()
    rows = []
    with Session(engine) as session:
        accounts = session.scalars(select(PaperAccount)).all()
        for acc in accounts:
            if name is not None and acc.account != name:
                continue
            held = session.scalars(select(PaperPosition).where(PaperPosition.account == acc.account)).all()
            rows.append(
                {
                    "account": acc.account,
                    "cash": acc.cash,
                    "positions": {p.symbol: p.quantity for p in held if p.quantity != 0},
                }
            )
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table("account", "cash", "positions")
    for r in rows:
        table.add_row(r["account"], f"{r['cash']:.2f}", ", ".join(f"{s} {q:g}" for s, q in r["positions"].items()))
    console.print(table if rows else "no paper accounts yet")


@app.command("halt")
@one_line_errors
def halt(
    file: Path = typer.Argument(..., help="Trading file."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded with the state)."),
    reducing: bool = typer.Option(False, "--reducing", help="REDUCING instead: only orders that shrink positions."),
) -> None:
    """Halt a strategy (nothing is sent) or set it REDUCING, until `quantgate resume`."""
    from pipeline.execution.model import TradingState
    from pipeline.execution.trading_file import load_trading_file

    trading = load_trading_file(file)
    name = trading.name
    state = TradingState.REDUCING if reducing else TradingState.HALTED
    coded = f"MANUAL_{state.value}: {reason}"
    _ledger().set_state(name, state, coded)
    console.print(f"{name}: {state.value} ({reason})")
    if trading.notify is not None:  # announced like a halt decided by a cycle (needs the Prefect API)
        from tasks.trade import send_notification

        send_notification(trading.notify.block, f"quantgate {name}: {state.value}", f"{name} {state.value}: {coded}")
        console.print(f"  announced through {trading.notify.block}")


@app.command("resume")
@one_line_errors
def resume(file: Path = typer.Argument(..., help="Trading file.")) -> None:
    """Make a halted strategy ACTIVE again."""
    from pipeline.execution.model import TradingState
    from pipeline.execution.trading_file import load_trading_file

    name = load_trading_file(file).name
    _ledger().set_state(name, TradingState.ACTIVE, "resumed by hand")
    console.print(f"{name}: ACTIVE")
