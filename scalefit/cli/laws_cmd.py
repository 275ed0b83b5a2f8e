"""``scalefit laws``: list the laws that can be fitted."""

from __future__ import annotations

import math

import typer

from scalefit.cli._app import app
from scalefit.cli.common import echo, echo_json, handle_errors


def _bound(v: float) -> str:
    return "inf" if math.isinf(v) and v > 0 else "-inf" if math.isinf(v) else f"{v:g}"


def law_summary(name: str) -> dict:
    from scalefit.laws import get_law

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


def procedure_summary(name: str) -> dict:
    from scalefit.procedures import get_procedure

    proc = get_procedure(name)
    return {"name": proc.name, "kind": "procedure", "summary": proc.summary, "source": proc.source,
            "result": proc.result, "options": proc.options()}


@app.command("laws")
@handle_errors
def laws_command(
    name: str = typer.Argument(None, help="Show one law or procedure in detail."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List the laws and the fitting procedures: equation or recipe, inputs, parameters, source."""
    from scalefit.laws import list_laws
    from scalefit.procedures import PROCEDURES, list_procedures

    if name in PROCEDURES:
        _echo_procedures([procedure_summary(name)], as_json, one=True)
        return
    names = [name] if name else list_laws()
    summaries = [{**law_summary(n), "kind": "law"} for n in names]
    procedures = [] if name else [procedure_summary(n) for n in list_procedures()]
    if as_json:
        echo_json(summaries[0] if name else summaries + procedures)
        return
    for s in summaries:
        echo(f"{s['name']}: {s['equation']}")
        echo(f"    inputs: {', '.join(s['inputs'])} -> {s['target']}    source: {s['source']}")
        params = ", ".join(f"{p['name']}∈[{_bound(p['lower'])}, {_bound(p['upper'])}]" for p in s["parameters"])
        echo(f"    parameters: {params}")
        if s["derived"]:
            echo(f"    derived: {', '.join(s['derived'])}")
        if name and s["description"]:
            echo(f"    {s['description']}")
    if procedures:
        echo("\nprocedures (scalefit fit NAME RUNS; scalefit.fit(NAME, runs, ...)):")
        _echo_procedures(procedures, False)


def _echo_procedures(items: list[dict], as_json: bool, one: bool = False) -> None:
    if as_json:
        echo_json(items[0] if one else items)
        return
    for p in items:
        echo(f"{p['name']}: {p['summary']}")
        echo(f"    source: {p['source']}    result: {p['result']}")
        if one:
            echo(f"    options: {', '.join(p['options'])}")
