"""``scalefit fit LAW RUNS.csv``: fit a law (or a fitting procedure such as ``isoflop``) to a run log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from scalefit.cli._app import app
from scalefit.cli.common import echo, echo_json, handle_errors
from scalefit.cli.ladder_options import LadderOptions
from scalefit.cli.option_groups import option, with_options
from scalefit.cli.options import OptionError, parse_pairs
from scalefit.cli.row_options import RowOptions

# How `scalefit fit NAME` turns its options into the keyword options of each procedure of the library registry
# (scalefit.procedures): name -> fn(Procedure) calling scalefit.fit(name, ...).
PROCEDURE_OPTIONS: dict[str, Callable[[Procedure], Any]] = {}


@dataclass(frozen=True)
class Procedure:
    """What `scalefit fit PROCEDURE` hands a procedure's option parsing: the procedure's name, the run log, the
    fitting options as given, its ``--opt`` settings (and the ladder's column options) and the row options."""

    name: str
    runs: Path
    fitting: FitOptions
    options: dict  # --opt KEY=VALUE (with --loss-cols/--acc-cols/--task-col for the ladder)
    rows: dict  # the row options given (cli.row_options: --run, --reduce, ...), for the procedures that read them


def register_procedure(name: str) -> Callable:
    """Register the CLI option parsing of the library procedure ``name``."""
    from scalefit.procedures import get_procedure

    get_procedure(name)  # only procedures the library has

    def deco(fn: Callable[[Procedure], Any]) -> Callable[[Procedure], Any]:
        PROCEDURE_OPTIONS[name] = fn
        return fn

    return deco


# The modules whose register_procedure calls fill PROCEDURE_OPTIONS (imported when `fit` first needs them).
PROCEDURE_MODULES = ("isoflop_cmd", "hparams_cmd", "ladder_cmd", "curves_cmd")


def procedure_parser(name: str) -> Callable[[Procedure], Any] | None:
    """The CLI option parsing of procedure ``name`` (None for a law)."""
    from importlib import import_module

    for module in PROCEDURE_MODULES:
        import_module(f"scalefit.cli.{module}")
    return PROCEDURE_OPTIONS.get(name)


def law_options(name: str, x: str | None, formula: str | None, params: list[str] | None,
                opts: list[str] | None) -> dict:
    """The law factory options given on the command line."""
    options: dict[str, Any] = {}
    for key, value in parse_pairs(opts, "--opt").items():
        try:
            options[key] = float(value)
        except ValueError:
            options[key] = value
    if x is not None:
        options["x"] = x
    if name == "expr":
        if not formula:
            raise OptionError('`scalefit fit expr` needs --formula, e.g. --formula "E + A/N**alpha" --param E=1:0:10')
        options["formula"] = formula
        options["params"] = list(params or [])
    elif formula:
        raise OptionError(f"--formula only applies to `scalefit fit expr`, not to {name!r}")
    elif params:  # a built-in law: new starts and bounds (scalefit.laws.constraints), e.g. --param b=:0:1
        from scalefit.laws.constraints import OPTION, parse_bounds

        options[OPTION] = {"params": {k: list(v) for k, v in parse_bounds(params).items()}}
    return options


def runs_and_target(runs: Path, target: str | None, target_mean: str | None, target_glob: str | None = None, *,
                    command: str = "fit"):
    """The run log to fit and the target column: with ``--target-mean``, a table with the derived column; with
    ``--target A,B`` or ``--target-glob``, the table and the list of target columns (a multi-target fit, which
    only `fit` makes: other commands take one target)."""
    if sum(x is not None for x in (target, target_mean, target_glob)) > 1:
        raise OptionError("use one of --target COLUMN[,COLUMN...], --target-glob GLOB or --target-mean GLOB")
    if target_glob is not None or (target is not None and "," in target):
        from scalefit.fitting.multi_target import target_columns
        from scalefit.runs import read_runs

        table = read_runs(runs)
        columns = target_columns(table, target, target_glob)
        if len(columns) > 1 and command != "fit":
            raise OptionError(f"`scalefit {command}` takes one target column, got {columns}: run it once per "
                              "target (--target COLUMN); `scalefit fit` fits several into one file")
        return table, columns if len(columns) > 1 else columns[0]
    if target_mean is None:
        return runs, target
    from scalefit.runs import read_runs, with_mean_column

    return with_mean_column(read_runs(runs), target_mean)


def fit_law(spec, runs: Path, fitting: FitOptions):
    """``spec`` (:meth:`FitOptions.spec`) fitted to ``runs``: grouped by ``--group-by``, per target column of
    ``--target A,B``/``--target-glob``, on ``1 - mean`` of ``--target-mean``'s columns."""
    import warnings

    from scalefit.errors import BoundWarning, ConvergenceWarning
    from scalefit.fitting.api import fit_spec

    runs, target = runs_and_target(runs, fitting.target, fitting.target_mean, fitting.target_glob)
    with warnings.catch_warnings():
        # the report (and --json's search.warnings) carries these already
        warnings.simplefilter("ignore", (BoundWarning, ConvergenceWarning))
        return fit_spec(spec, runs, target=target, group_by=fitting.group_by)


def summary(result) -> dict:
    """A compact JSON view of a FitResult (no bootstrap samples), or of a FitSet (each member's)."""
    d = result.to_dict()
    d.pop("bootstrap", None)
    if hasattr(result, "by"):  # a FitSet
        d["groups"] = {k: summary(g) for k, g in result.items()}
    else:
        d["intervals"] = result.intervals()
        d["fixed"] = dict(result.law_spec.fixed)  # parameters held by --fix: no interval, not free
        d["derived"] = {k: float(result.derived(k)) for k, v in result.law_spec.derived.items() if not v.needs}
    return d


@dataclass(frozen=True)
class FitOptions:
    """The fitting options of `scalefit fit` and `scalefit backtest`, declared once."""

    map_: list[str] = option(None, "--map", metavar="SYMBOL=COLUMN", help="Which column feeds a law symbol, "
                             "e.g. --map N=n_params_nonembed (repeatable).")
    target: str = option(None, "--target", metavar="COLUMN[,COLUMN...]", help="Column holding the fitted "
                         "quantity (default: loss); several, comma-separated: one fit per column, saved together.")
    target_glob: str = option(None, "--target-glob", metavar="GLOB", help="Fit the law to every column matching "
                              "GLOB (e.g. 'loss_*'), one fit per column, saved together.")
    target_mean: str = option(None, "--target-mean", metavar="GLOB", help="Fit 1 - the mean of columns matching "
                              "this glob (e.g. 'acc_*': accuracies -> average error) instead of --target.")
    where: str = option(None, "--where", metavar="EXPR", help='Row filter, e.g. "N >= 1e8 and loss < 4" '
                        "(backtest: applied before the holdout split).")
    group_by: str = option(None, "--group-by", metavar="COLUMN", help="Fit the law separately for each value "
                           "of COLUMN (backtest: one holdout error per group).")
    bootstrap: int = option(0, "--bootstrap", help="Bootstrap resamples of runs for intervals.")
    seed: int = option(0, "--seed", help="Seed of the bootstrap.")
    bootstrap_by: str = option(None, "--bootstrap-by", metavar="COLUMN", help="Resample groups of rows "
                               "(default: run_id if it repeats, e.g. checkpoints of one run; else rows).")
    loss: str = option("huber", "--loss", help="huber | mse.")
    delta: float = option(1e-3, "--delta", help="Huber threshold on the residuals.")
    space: str = option(None, "--space", help="log | raw residuals (default: log for positive targets).")
    x: str = option(None, "--x", metavar="SYMBOL", help="Input symbol of one-input laws such as `power` "
                    "(e.g. C or N).")
    formula: str = option(None, "--formula", help='`expr` only: e.g. "E + A/N**alpha + B/D**beta".')
    param: list[str] = option(None, "--param", metavar="NAME=INIT:MIN:MAX", help="A parameter's start and "
                              "bounds, any part empty to keep the law's (b=:0:1); INIT is added to the law's "
                              "start grid (it does not replace it); for `expr` it declares the parameter. "
                              "Repeatable.")
    opt: list[str] = option(None, "--opt", metavar="KEY=VALUE", help="Law or procedure option (see "
                            "`scalefit laws NAME`), repeatable.")

    @property
    def mapping(self) -> dict:
        """``--map SYMBOL=COLUMN`` as symbol -> column."""
        from scalefit.runs import parse_map

        return parse_map(self.map_)

    def options(self, name: str, rows: RowOptions | None = None, ladder: LadderOptions | None = None) -> dict:
        """The factory options of law ``name`` (``--x``, ``--formula``, ``--param``, ``--fix``, ``--opt``), or a
        procedure's ``--opt`` settings (with the ladder's column options); an option ``name`` does not take is
        refused."""
        from scalefit.cli.ladder_options import ladder_options
        from scalefit.cli.row_options import constrained

        given = law_options(name, self.x, self.formula, self.param, self.opt)  # procedures read --opt too
        return ladder_options(name, constrained(name, given, rows), ladder)

    def spec(self, name: str, options: dict, rows: RowOptions | None = None):
        """The FitSpec of law ``name`` with factory ``options`` (:meth:`options`) that these options and the row
        options make (its target column is :func:`fit_law`'s to set: one, several, or a derived mean)."""
        from scalefit.fitting.spec import FitSpec

        return FitSpec.of(name, law_options=options, mapping=self.mapping, where=self.where, loss=self.loss,
                          delta=self.delta, space=self.space, bootstrap=self.bootstrap, seed=self.seed,
                          bootstrap_by=self.bootstrap_by, **(rows.fit_keywords() if rows is not None else {}))


@app.command("fit")
@handle_errors
@with_options(fitting=FitOptions, rows=RowOptions, ladder=LadderOptions)
def fit_command(
    law: str = typer.Argument(..., help="Law name (see `scalefit laws`), `expr`, or a procedure such as `isoflop`."),
    runs: Path = typer.Argument(..., help="Run log: CSV, TSV or Parquet, one row per run."),
    fitting: FitOptions = None,
    rows: RowOptions = None,
    ladder: LadderOptions = None,
    out: Path = typer.Option(None, "--out", "-o", help="Write the fit to this JSON file (atomically)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Fit a scaling law to a run log; print the parameters with intervals and fit statistics."""
    from scalefit._io import refuse_input_overwrite

    if out is not None:
        refuse_input_overwrite(out, [runs], "--out")
    options, runs = fitting.options(law, rows, ladder), rows.source(runs)
    parse = procedure_parser(law)
    if parse is not None:
        result = parse(Procedure(law, runs, fitting, options, rows.fit_keywords()))
        payload = result.to_dict()
    else:
        result = fit_law(fitting.spec(law, options, rows), runs, fitting)
        payload = summary(result)
    if out is not None:
        result.save(out)
    if as_json:
        echo_json(payload)
    else:
        echo(result.report())
        if out is not None:
            echo(f"\nwrote {out}")
