"""``scalefit laws``: list the laws that can be fitted."""

from __future__ import annotations

import math

import typer

from scalefit.cli._app import app
from scalefit.cli.common import echo_json, handle_errors
from scalefit.laws import get_law, list_laws


def _bound(v: float) -> str:
    return "inf" if math.isinf(v) and v > 0 else "-inf" if math.isinf(v) else f"{v:g}"


def law_summary(name: str) -> dict:
    law = get_law(name)
    return {
        "name": law.name,
        "equation": law.equation,
        "source": law.source,
        "inputs": list(law.inputs),
        "target": law.target,
        "parameters": [
            {"name": p.name, "lower": p.lower, "upper": p.upper, "log": p.log, "n_starts": len(p.grid), "doc": p.doc}
            for p in law.params
        ],
        "derived": {k: d.doc for k, d in law.derived.items()},
        "options": dict(law.options),
        "description": law.description,
    }


@app.command("laws")
@handle_errors
def laws_command(
    name: str = typer.Argument(None, help="Show one law in detail."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List the laws that can be fitted: equation, inputs, parameters and source."""
    names = [name] if name else list_laws()
    summaries = [law_summary(n) for n in names]
    if as_json:
        echo_json(summaries if not name else summaries[0])
        return
    for s in summaries:
        typer.echo(f"{s['name']}: {s['equation']}")
        typer.echo(f"    inputs: {', '.join(s['inputs'])} -> {s['target']}    source: {s['source']}")
        params = ", ".join(f"{p['name']}∈[{_bound(p['lower'])}, {_bound(p['upper'])}]" for p in s["parameters"])
        typer.echo(f"    parameters: {params}")
        if s["derived"]:
            typer.echo(f"    derived: {', '.join(s['derived'])}")
        if name and s["description"]:
            typer.echo(f"    {s['description']}")
