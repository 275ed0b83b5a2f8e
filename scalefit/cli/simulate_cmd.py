"""``scalefit simulate LAW --params ...``: a synthetic run log from a law with known parameters."""

from __future__ import annotations

from pathlib import Path

import typer

from scalefit.cli._app import app
from scalefit.cli.common import echo, handle_errors, write_csv_atomic
from scalefit.cli.options import parse_params


@app.command("simulate")
@handle_errors
def simulate_command(
    law: str = typer.Argument(..., help="Law name (see `scalefit laws`)."),
    params: str = typer.Option(..., "--params", help="Comma list NAME=VALUE of every law parameter."),
    n_points: int = typer.Option(60, "--points", help="Number of runs."),
    noise: float = typer.Option(0.01, "--noise", help="Std. dev. of multiplicative log-normal noise."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    x: str = typer.Option(None, "--x", help="Input symbol of one-input laws such as `power`."),
    out: Path = typer.Option(None, "--out", "-o", help="Write the CSV here (default, or `-`: stdout)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out if it exists (refused otherwise)."),
) -> None:
    """Draw a synthetic run log from a law (IsoFLOP-style grid for laws in N and D)."""
    from scalefit._io import check_output_file
    from scalefit.errors import OutputPathError
    from scalefit.laws import get_law
    from scalefit.laws.simulate import simulate

    out = None if out is not None and str(out) == "-" else out  # `--out -`: stdout, as without --out
    if out is not None and check_output_file(out).exists() and not overwrite:
        raise OutputPathError(f"--out {str(out)!r} exists (a run log?); simulate never replaces a file unless "
                              "--overwrite is given: choose another path or add --overwrite")

    law_obj = get_law(law, **({"x": x} if x else {}))
    frame = simulate(law_obj, parse_params(params), n_points=n_points, noise=noise, seed=seed)
    if out is None:
        echo(frame.to_csv(index=False), nl=False)
    else:
        write_csv_atomic(out, frame)
        echo(f"wrote {len(frame)} runs to {out}")
