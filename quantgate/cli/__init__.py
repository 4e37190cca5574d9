"""The `quantgate` command. Heavy libraries are imported inside commands so `--help` stays fast."""

from __future__ import annotations

import typer

from quantgate.cli import data, db, experiments, models, reconcile, server, sweeps, trading, validate

app = typer.Typer(
    name="quantgate",
    help="Run trading hypotheses as gated, tracked experiments. Paper trading by default; never live unless asked.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _mount(sub: typer.Typer) -> None:
    """Add a module's commands at the top level (``quantgate run``, not ``quantgate experiments run``)."""
    app.registered_commands.extend(sub.registered_commands)


_mount(experiments.app)
_mount(sweeps.app)
_mount(data.app)
_mount(validate.app)
_mount(models.app)
_mount(trading.app)
_mount(reconcile.app)
app.add_typer(db.app, name="db")
app.add_typer(server.app, name="server")


def main() -> None:
    """Console-script entry point: `quantgate run` goes to the warm runner when one serves (see warm.py)."""
    import sys

    from quantgate.cli import warm
    from quantgate.cli._common import INTERRUPTED, catch_interrupts

    catch_interrupts()
    try:
        status = warm.delegate(sys.argv[1:])
        if status is None:
            app()
    except KeyboardInterrupt:  # before a command's own handler (one_line_errors) was reached
        sys.stderr.write(f"error: {INTERRUPTED}\n")
        status = 130
    sys.exit(status)
