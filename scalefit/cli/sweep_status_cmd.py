"""``scalefit sweep-status DIR``: what a sweep folder holds (``scalefit sweep status DIR`` still works for a
release, with a note)."""

from __future__ import annotations

from pathlib import Path

import typer

from scalefit.cli._app import app
from scalefit.cli.common import echo_json, handle_errors


@app.command("sweep-status")
@handle_errors
def sweep_status_command(
    folder: Path = typer.Argument(..., metavar="DIR", help="A sweep folder (`scalefit sweep --out DIR`)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Summarise a sweep folder: runs ok / diverged / failed / pending, their messages, the lowest loss."""
    from scalefit.sweeps.store import sweep_status

    st = sweep_status(folder)
    if as_json:
        echo_json(st.to_dict())
        return
    counts = ", ".join(f"{n} {k}" for k, n in st.counts.items())
    typer.echo(f"{st.name} ({st.source}): {st.planned} runs planned: {counts}; {st.wall_s / 60:.1f} min of run time")
    if st.best:
        b = st.best
        typer.echo(f"lowest loss: {b['loss']:.4f} ({b['run_id']}, N={b['n_params']:,}, D={b['n_tokens']:,})")
    for rid, msg in st.messages.items():
        typer.echo(f"  {rid}: {msg}")
    if st.counts.get("pending"):
        typer.echo("resume with the same sweep command; finished runs are skipped")
