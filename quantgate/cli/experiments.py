"""`quantgate check|schema|run`: experiment files."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from quantgate.cli._common import console, err_console, one_line_errors, quiet_orchestration

app = typer.Typer()


@app.command("check")
def check(files: list[Path] = typer.Argument(..., help="Experiment YAML files to validate.")) -> None:
    """Validate experiment files; print one line per problem naming the file and field."""
    from pipeline.config import load_experiments
    from pipeline.errors import ConfigError
    from pipeline.experiment import semantic_errors

    bad = 0
    for path in files:
        try:
            configs = load_experiments(path)
            problems = [line for config in configs for line in semantic_errors(config, path)]
        except ConfigError as exc:
            problems = exc.errors
        if problems:
            bad += 1
            for line in problems:
                err_console.print(line, highlight=False, soft_wrap=True, markup=False)
        else:
            suffix = f" ({len(configs)} experiments)" if len(configs) > 1 else ""
            console.print(f"ok: {path}{suffix}", highlight=False)
    if bad:
        raise typer.Exit(1)


@app.command("schema")
def schema(output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file.")) -> None:
    """Print the JSON schema of experiment files (for editors)."""
    from pipeline.config import json_schema

    text = json.dumps(json_schema(), indent=2, sort_keys=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        console.print(f"wrote {output}")


@app.command("run")
@one_line_errors
def run(
    file: Path = typer.Argument(..., help="Experiment YAML file."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Prefect and MLflow logs."),
) -> None:
    """Run one experiment end to end: data, quality, features, train, backtest, gate, MLflow, registry."""
    from pipeline.config import load_experiment

    load_experiment(file)  # fail fast, before Prefect starts, on a bad file
    quiet_orchestration(verbose)
    from flows.experiment import experiment_flow
    from quantgate.cli.summary import print_outcome

    outcome = experiment_flow(str(file))
    print_outcome(outcome)
