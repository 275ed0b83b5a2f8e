"""``scalefit select RUNS [--candidates LAW,...] [--formula F --param P ...]``: choose the law that extrapolates.

Parses the options, calls :func:`scalefit.fitting.select.select`, prints the leaderboard (``--json``: the
SelectionResult) and writes the winner's fit file (``--out``), usable by predict and plot.
"""

from __future__ import annotations

import re
from pathlib import Path

import typer

from scalefit.cli._app import app
from scalefit.cli.common import echo, echo_json, handle_errors
from scalefit.cli.option_groups import with_options
from scalefit.cli.options import OptionError
from scalefit.cli.row_options import ReduceOptions


def _candidates(names: str | None, formulas: list[str] | None, params: list[str] | None) -> list | None:
    """Law names and ``expr`` formulas (each with the --param entries it names), or None for every law."""
    out: list = [n.strip() for n in (names or "").split(",") if n.strip()]
    for formula in formulas or []:
        used = [p for p in params or [] if re.search(rf"\b{re.escape(p.split('=', 1)[0].strip())}\b", formula)]
        out.append(("expr", {"formula": formula, "params": used}))
    if params and not formulas:
        raise OptionError("--param applies to --formula candidates; add --formula \"E + A/N**alpha\" or drop --param")
    return out or None


def _objectives(text: str) -> list[str]:
    return [o.strip() for o in text.split(",") if o.strip()]


@app.command("select")
@handle_errors
@with_options(checkpoints=ReduceOptions)
def select_command(
    runs: Path = typer.Argument(..., help="Run log: CSV, TSV or Parquet (only these rows inform the choice)."),
    candidates: str = typer.Option(None, "--candidates", metavar="LAW[,LAW...]", help="Laws to compare "
                                   "(default: every library law whose symbols the columns provide)."),
    formula: list[str] = typer.Option(None, "--formula", help='An `expr` candidate, e.g. "E + A/N**alpha" '
                                      "(repeatable)."),
    param: list[str] = typer.Option(None, "--param", metavar="NAME=INIT[:MIN:MAX]", help="A parameter of the "
                                    "--formula candidates that name it (repeatable)."),
    along: str = typer.Option(None, "--along", metavar="SYMBOL", help="Extrapolate along this symbol "
                              "(default: N, C or D, the candidates' scale symbol)."),
    holdout: str = typer.Option(None, "--holdout", metavar="EXPR", help='One validation fold: these rows, '
                                'e.g. "N >= 5e9" (instead of --folds).'),
    folds: int = typer.Option(None, "--folds", help="Nested outward folds: fold k holds out the top k·f along "
                              "--along (default 2)."),
    fraction: float = typer.Option(0.1, "--fraction", help="f: each fold holds out this much more."),
    objectives: str = typer.Option("huber,mse", "--objectives", help="huber (robust, log residuals) and/or "
                                   "mse (least squares, raw values)."),
    group_by: str = typer.Option(None, "--group-by", metavar="COLUMN", help="Folds and fits within each group; "
                                 "one law for all groups."),
    map_: list[str] = typer.Option(None, "--map", metavar="SYMBOL=COLUMN", help="Which column feeds a symbol."),
    target: str = typer.Option(None, "--target", metavar="COLUMN", help="Column holding the fitted quantity."),
    where: str = typer.Option(None, "--where", metavar="EXPR", help="Row filter applied first."),
    tolerance: float = typer.Option(0.10, "--tolerance", help="The winner: fewest parameters among candidates "
                                    "within this share of the best validation RMSLE (0: the lowest RMSLE)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the fold fits' start subsample."),
    out: Path = typer.Option(None, "--out", "-o", help="Write the winner's fit (on all rows) to this JSON file."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output: the whole selection."),
    checkpoints: ReduceOptions = None,
) -> None:
    """Fit every candidate law with each objective, score extrapolation to the largest runs, print the
    leaderboard and keep the winner (the simplest within --tolerance of the lowest mean validation RMSLE)
    refitted on all rows."""
    from scalefit._io import refuse_input_overwrite
    from scalefit.fitting.select import select
    from scalefit.runs import parse_map

    if holdout is not None and folds is not None:
        raise OptionError("use either --holdout EXPR or --folds K, not both")
    if out is not None:
        refuse_input_overwrite(out, [runs], "--out")
    if target is not None and "," in target:
        from scalefit.cli.fit_cmd import runs_and_target

        _, target = runs_and_target(runs, target, None, command="select")
    data = checkpoints.reduced(runs, target, parse_map(map_))  # one row per run (--reduce ...) before the folds
    result = select(data, _candidates(candidates, formula, param), along=along, folds=folds or 2,
                    fraction=fraction, holdout=holdout, objectives=_objectives(objectives), where=where,
                    mapping=parse_map(map_), target=target, group_by=group_by, seed=seed, tolerance=tolerance)
    if out is not None:
        result.best_fit().save(out)
    if as_json:
        echo_json(result.to_dict())
        return
    echo(result.report())
    if out is not None:
        echo(f"wrote {out} (the winner's fit)")
