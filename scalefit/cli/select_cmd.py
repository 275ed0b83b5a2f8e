"""``scalefit select RUNS [--candidates LAW,...] [--formula F --param P ...]``: choose the law that extrapolates.

Parses the options, calls :func:`scalefit.fitting.select.select` (or ``select_targets`` for several targets:
``--target a,b`` or ``--target-glob 'loss_*'``, one board each), prints the leaderboard (``--json``: the
SelectionResult, or the SelectionSet of several targets) and writes the winner's fit file (``--out``; with
several targets, one file per target, OUT.TARGET.json), usable by predict and plot. Law options as in
`fit`: ``--opt KEY=VALUE`` for every candidate that takes KEY, or per candidate
``--candidates 'power(x=D),chinchilla'``.
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

_CANDIDATE = re.compile(r"\s*([A-Za-z0-9_.-]+)\s*(?:\((.*)\))?\s*$")


def _split_top(text: str) -> list[str]:
    """``"a(x=1,y=2),b"`` -> ``["a(x=1,y=2)", "b"]``: commas outside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            raise OptionError(f"--candidates {text!r}: a ')' without its '('")
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if depth:
        raise OptionError(f"--candidates {text!r}: a '(' without its ')'")
    return [*parts, cur]


def _candidate(text: str) -> str | tuple:
    """``power(x=D)`` -> ``("power", {"x": "D"})``; a bare name stays a string."""
    from scalefit.cli.options import parse_pairs

    m = _CANDIDATE.match(text)
    if m is None:
        raise OptionError(f"--candidates {text.strip()!r}: expected LAW or LAW(KEY=VALUE,...), e.g. power(x=D)")
    if m.group(2) is None:
        return m.group(1)
    pairs = parse_pairs([p for p in m.group(2).split(",") if p.strip()], f"--candidates {m.group(1)}(...)")
    return m.group(1), {k: _number(v) for k, v in pairs.items()}


def _number(value: str):
    try:
        return float(value)
    except ValueError:
        return value


def _candidates(names: str | None, formulas: list[str] | None, params: list[str] | None) -> list | None:
    """Law names (with their own options, ``power(x=D)``) and ``expr`` formulas (each with the --param entries it
    names), or None for every law."""
    out: list = [_candidate(n) for n in _split_top(names or "") if n.strip()]
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
    along: str = typer.Option(None, "--along", metavar="SYMBOL|COLUMN", help="Hold out along this symbol or "
                              "column: the largest values of a numeric one, each value of a categorical one, or "
                              "'mixture' (each mixture of r1, r2, ...). Default: the axis the candidates declare "
                              "(mixture for the data-mixture laws), else N, C, D or M."),
    holdout: str = typer.Option(None, "--holdout", metavar="EXPR", help='One validation fold: these rows, '
                                'e.g. "N >= 5e9" (instead of --folds).'),
    folds: int = typer.Option(None, "--folds", help="Nested outward folds: fold k holds out the top ~k·f of the "
                              "rows along --along, cut between distinct values (default 2; fewer when the values "
                              "run out); on a categorical axis or mixtures, K group folds (default: leave one out, "
                              "up to 10)."),
    fraction: float = typer.Option(0.1, "--fraction", help="f: each fold holds out this much more."),
    objectives: str = typer.Option("huber,mse", "--objectives", help="huber (robust, log residuals) and/or "
                                   "mse (least squares, raw values)."),
    group_by: str = typer.Option(None, "--group-by", metavar="COLUMN", help="Folds and fits within each group; "
                                 "one law for all groups."),
    map_: list[str] = typer.Option(None, "--map", metavar="SYMBOL=COLUMN", help="Which column feeds a symbol."),
    target: str = typer.Option(None, "--target", metavar="COLUMN[,COLUMN...]", help="Column holding the fitted "
                               "quantity; several, comma-separated: one board per target."),
    target_glob: str = typer.Option(None, "--target-glob", metavar="GLOB", help="Select for every column matching "
                                    "GLOB (e.g. 'loss_*'), one board per target."),
    opt: list[str] = typer.Option(None, "--opt", metavar="KEY=VALUE", help="Law option for every candidate that "
                                  "takes it, e.g. --opt n=5 (repeatable; per candidate: --candidates 'power(x=D)')."),
    where: str = typer.Option(None, "--where", metavar="EXPR", help="Row filter applied first."),
    tolerance: float = typer.Option(0.10, "--tolerance", help="The winner: fewest parameters among candidates "
                                    "within this share of the best validation score (RMSLE for a positive target, "
                                    "RMSE otherwise; 0: the lowest)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the fold fits' start subsample."),
    out: Path = typer.Option(None, "--out", "-o", help="Write the winner's fit (on all rows) to this JSON file."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output: the whole selection."),
    checkpoints: ReduceOptions = None,
) -> None:
    """Fit every candidate law with each objective, score extrapolation to the largest runs, print the
    leaderboard and keep the winner (the simplest within --tolerance of the lowest mean validation RMSLE)
    refitted on all rows."""
    from scalefit._io import refuse_input_overwrite
    from scalefit.cli.fit_cmd import runs_and_target
    from scalefit.cli.options import parse_pairs
    from scalefit.fitting.select import select, select_targets
    from scalefit.runs import parse_map

    if holdout is not None and folds is not None:
        raise OptionError("use either --holdout EXPR or --folds K, not both")
    if out is not None:
        refuse_input_overwrite(out, [runs], "--out")
    mapping = parse_map(map_)
    options = {k: _number(v) for k, v in parse_pairs(opt, "--opt").items()}
    data, target = runs_and_target(checkpoints.source(runs), target, None, target_glob, command="fit")
    targets = target if isinstance(target, list) else None
    if targets and checkpoints.reducers():  # one row per run (--reduce ...) before the folds, every target reduced
        from scalefit.runs import reduce_runs

        data = reduce_runs(data, run=checkpoints.run, columns=targets, mapping=mapping, **checkpoints.reducers())
    elif not targets:
        data = checkpoints.reduced(data, target, mapping)
    kw = dict(along=along, folds=folds, fraction=fraction, holdout=holdout, objectives=_objectives(objectives),
              where=where, mapping=mapping, group_by=group_by, seed=seed, tolerance=tolerance, law_options=options)
    cands = _candidates(candidates, formula, param)
    result = select_targets(data, targets, cands, **kw) if targets else select(data, cands, target=target, **kw)
    written = []
    for t, sel in (result.items() if targets else [(None, result)]):
        if out is not None:  # several targets: one fit file each, OUT.TARGET.json (their winners may differ)
            path = out if t is None else out.with_name(f"{out.stem}.{t}{out.suffix or '.json'}")
            refuse_input_overwrite(path, [runs], "--out")
            sel.best_fit().save(path)
            written.append(path)
    if as_json:
        echo_json(result.to_dict())
        return
    echo(result.report())
    for path in written:
        echo(f"wrote {path} (the winner's fit{'' if not targets else ' for ' + path.stem.split('.')[-1]})")
