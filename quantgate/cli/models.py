"""`quantgate models|promote|demote`: the model registry."""

from __future__ import annotations

import typer
from rich.table import Table

from quantgate.cli._common import console, one_line_errors, quiet_orchestration

app = typer.Typer()


@app.command("models")
@one_line_errors
def models() -> None:
    """List registered models with their versions' stages, aliases and gate results."""
    quiet_orchestration(False)
    from pipeline.registry import list_models
    from pipeline.tracking import configure_mlflow

    configure_mlflow()
    summaries = list_models()
    if not summaries:
        console.print("no registered models yet")
        return
    table = Table("model", "version", "stage", "aliases", "gate", "run id", "in sync")
    for model in summaries:
        for v in model.versions:
            gate = {True: "[green]passed[/]", False: "[red]failed[/]"}.get(v.gate_passed, "?")
            sync = "" if getattr(v, "in_sync", True) else "[yellow]no[/]"
            table.add_row(model.name, str(v.version), v.stage, ", ".join(v.aliases), gate, v.run_id or "", sync)
    console.print(table)


@app.command("promote")
@one_line_errors
def promote(
    name: str = typer.Argument(..., help="Registered model name."),
    version: str = typer.Argument(..., help="Version to promote to Production."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the promotion history)."),
    force: bool = typer.Option(False, "--force", help="Promote even though the version failed its gate."),
) -> None:
    """Promote a version to Production (stage and alias); refuses a gate-failed version unless --force."""
    quiet_orchestration(False)
    from pipeline.registry import promote as promote_version
    from pipeline.tracking import configure_mlflow

    configure_mlflow()
    info = promote_version(name, version, reason=reason, force=force)
    console.print(f"{info.name} v{info.version} is now {info.stage} (aliases: {', '.join(info.aliases) or '-'})")


@app.command("demote")
@one_line_errors
def demote(
    name: str = typer.Argument(..., help="Registered model name."),
    reason: str = typer.Option("demoted by hand", "--reason", help="Why (recorded in the promotion history)."),
) -> None:
    """Take the Production version out of production (archived, alias removed)."""
    quiet_orchestration(False)
    from pipeline.registry import demote as demote_model
    from pipeline.tracking import configure_mlflow

    configure_mlflow()
    for info in demote_model(name, reason=reason):
        console.print(f"{info.name} v{info.version} is now {info.stage}", highlight=False)
    console.print(f"no version of {name} is in Production", highlight=False)
