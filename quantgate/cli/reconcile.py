"""`quantgate reconcile FILE [--accept | --flatten]`: ledger against venue, and the explicit ways out of a halt.

Without a flag it settles what the venue can settle, prints every difference (positions, working orders the
venue lost, venue open orders the ledger does not know) and exits 1 when one is left (the strategy is HALTED
with the first difference as its reason). ``--accept`` adopts the venue's state and ``--flatten`` closes the
venue's positions; both record who and why, and lift the reconcile halt (never a person's ``quantgate halt``).
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import typer

import tasks.secrets  # noqa: F401 - registers the Prefect Secret block reader for `credentials: {key_block: ...}`
from quantgate.cli._common import console, one_line_errors, stdout_to_stderr

app = typer.Typer()


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return "unknown"


@app.command("reconcile")
@one_line_errors
def reconcile(
    file: Path = typer.Argument(..., help="Trading file."),
    accept: bool = typer.Option(False, "--accept", help="Adopt the venue's state (who/why recorded), then ACTIVE."),
    flatten: bool = typer.Option(False, "--flatten", help="Close the venue's positions, reconcile, then ACTIVE."),
    reason: str | None = typer.Option(None, "--reason", help="Why (required with --accept/--flatten)."),
    by: str | None = typer.Option(None, "--by", help="Who decides (default: the login name)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Compare the ledger with the broker: print the differences (exit 1 on any), or resolve them."""
    from pipeline.errors import ExecutionError
    from pipeline.execution import reconcile as rec
    from pipeline.execution.runner import open_session
    from pipeline.execution.trading_file import load_trading_file

    if accept and flatten:
        raise ExecutionError("--accept and --flatten exclude each other")
    if (accept or flatten) and not (reason and reason.strip()):
        raise ExecutionError(f"--{'accept' if accept else 'flatten'} needs --reason WHY (recorded with who decided)")
    trading = load_trading_file(file)
    with stdout_to_stderr() as out:
        session = open_session(trading, timeframe="1d", fee_bps=0.0, slippage_bps=0.0)
        who = by or _who()
        if accept or flatten:
            action = rec.accept if accept else rec.flatten
            notes = action(session, who, " ".join(reason.split()))
            diffs = []
        else:
            diffs, notes = rec.examine(session)
            rec.mark_halted(session, diffs)  # a person's MANUAL_HALTED stays as it is
        state, why, _ = session.ledger.state(trading.name)
    payload = {
        "strategy": trading.name,
        "differences": [d.line() for d in diffs],
        "notes": notes,
        "state": state.value,
        "reason": why,
    }
    if as_json:
        out.write(json.dumps(payload) + "\n")
    else:
        verdict = f"{len(diffs)} difference(s)" if diffs else "ledger and venue agree"
        console.print(f"{trading.name}: {verdict}; state {state.value} {why}".rstrip(), markup=False)
        for line in payload["differences"]:
            console.print(f"  {line}", markup=False)
        for note in notes:
            console.print(f"  {note}", markup=False)
    if diffs:
        raise typer.Exit(1)
