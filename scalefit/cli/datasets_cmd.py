"""``scalefit datasets``: the bundled reference datasets, usable wherever a run log is (``dataset:NAME``)."""

from __future__ import annotations

from dataclasses import asdict

import typer

from scalefit.cli._app import app
from scalefit.cli.common import echo, echo_json, handle_errors


@app.command("datasets")
@handle_errors
def datasets_command(
    name: str = typer.Argument(None, help="Show one dataset (its columns too)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List the bundled reference datasets: rows, source, licence, published numbers, an example."""
    from scalefit.datasets import DATASETS, PREFIX, dataset_path

    if name:
        dataset_path(name)  # an unknown name is an error listing the known ones
    chosen = [DATASETS[name.removeprefix(PREFIX)]] if name else list(DATASETS.values())
    if as_json:
        echo_json([{**asdict(d), "ref": PREFIX + d.name, "path": str(d.path)} for d in chosen])
        return
    for d in chosen:
        echo(f"{PREFIX}{d.name}  ({d.rows} rows) {d.title}")
        echo(f"    source:    {d.source}")
        echo(f"    licence:   {d.licence}")
        echo(f"    reference: {d.reference}")
        echo(f"    example:   {d.example}")
        if name:
            from scalefit.runs import read_runs

            echo(f"    columns:   {', '.join(read_runs(PREFIX + d.name).columns)}")
