"""The options of `scalefit fit` and `scalefit backtest` that constrain a law and shape the rows it is fitted to:
``--fix`` (with ``--param``, declared among the fitting options), ``--anchor``, ``--weight``, and the run key and
per-run reducers ``--run``, ``--reduce``, ``--skip-first``, ``--smooth``, ``--order`` (declared once; `select`
takes the reducers alone)."""

from __future__ import annotations

from dataclasses import dataclass

from scalefit.cli.option_groups import option
from scalefit.cli.options import OptionError

ROW_PROCEDURES = frozenset({"ladder"})  # procedures that read these options (fit_cmd.Procedure.rows)


@dataclass(frozen=True)
class ReduceOptions:
    """The run key and the per-run reducers of checkpoints (scalefit.runs.reduce)."""

    panel = "Runs and checkpoints"

    run: str = option(None, "--run", metavar="COLUMN", help="The column naming each row's run (default: run_id, "
                      "run or run_name); the bootstrap resamples runs.")
    reduce: str = option(None, "--reduce", metavar="last|mean-last=K|min|max", help="One row per run: its last "
                         "checkpoint, the target averaged over its last K, or the target's min/max.")
    skip_first: float = option(0.0, "--skip-first", metavar="FRACTION", help="Drop the first FRACTION of each "
                               "run's checkpoints (by --order) before reducing.")
    smooth: int = option(None, "--smooth", metavar="K", help="Trailing moving average of the target over each "
                         "run's last K checkpoints.")
    order: str = option(None, "--order", metavar="COLUMN", help="Column ordering a run's checkpoints (default: "
                        "step, then tokens, then FLOPs, else file order).")
    stitch: str = option(None, "--stitch", metavar="COLUMN", help="Join the runs that share COLUMN's value (a "
                         "resumed run logged as several tracker runs, e.g. config.name) into one; a step logged "
                         "twice keeps the later part's row (reported). Same as RUNS?stitch=COLUMN.")

    def source(self, runs):
        """The run-log reference with ``--stitch`` applied (``RUNS?stitch=COLUMN``)."""
        if self.stitch is None:
            return runs
        from pathlib import Path

        from scalefit.runs.trackers import with_stitch

        return Path(with_stitch(runs, self.stitch)) if isinstance(runs, Path) else with_stitch(runs, self.stitch)

    def reducers(self) -> dict:
        """The reducers given, as :func:`scalefit.runs.reduce_runs` keywords."""
        given = {"reduce": self.reduce, "skip_first": self.skip_first, "smooth": self.smooth, "order": self.order}
        return {k: v for k, v in given.items() if v not in (None, 0.0)}

    def reduced(self, runs, target: str | None, mapping: dict, symbol: str = "L"):
        """``runs`` reduced per run on the target column (``target``, else the column feeding ``symbol``), or
        ``runs`` itself when no reducer is given."""
        if not self.reducers():
            return runs
        from scalefit.fitting.api import as_table
        from scalefit.runs.reduce import reduce_target

        return reduce_target(as_table(runs), target, symbol, run=self.run, mapping=mapping, **self.reducers())


@dataclass(frozen=True)
class RowOptions(ReduceOptions):
    """Constraints, anchors, row weights, and the run key and reducers."""

    panel = "Constraints, anchors and checkpoints"

    fix: list[str] = option(None, "--fix", metavar="NAME=VALUE", help="Hold a parameter fixed at VALUE (inside "
                            "the law's bounds): no interval, not counted in AIC/BIC; repeatable.")
    anchor: list[str] = option(None, "--anchor", metavar="SYM=V,...", help="A fixed point in the law's symbols, "
                               "every input and the target (e.g. 'L=0,Acc=1', optionally ',weight=W'), in every fit "
                               "and bootstrap resample; repeatable.")
    weight: str = option(None, "--weight", metavar="COLUMN", help="Row weights (finite, >= 0): each row's loss "
                         "term is multiplied by its weight.")

    def fit_keywords(self) -> dict:
        """The :func:`scalefit.fitting.fit_law` keywords given (anchors parsed; constraints go elsewhere)."""
        from scalefit.fitting.rows import parse_anchor

        given = {"anchors": [parse_anchor(a) for a in self.anchor or []], "weight": self.weight, "run": self.run}
        return {**{k: v for k, v in given.items() if v not in (None, [])}, **self.reducers()}


def constrained(name: str, law_options: dict, rows: RowOptions | None) -> dict:
    """``law_options`` of law ``name`` with ``--fix`` among its constraints; the constraints and row options are
    refused for a procedure that does not take them."""
    from scalefit.laws.constraints import OPTION, parse_fixed
    from scalefit.procedures import PROCEDURES

    fixed = parse_fixed(rows.fix if rows is not None else None)
    keywords = rows.fit_keywords() if rows is not None else {}
    law_options = dict(law_options)
    constraints = dict(law_options.get(OPTION) or {})
    if fixed:
        constraints["fix"] = fixed
    if constraints:
        law_options[OPTION] = constraints
    if name in PROCEDURES and name not in ROW_PROCEDURES and (constraints or keywords):
        given = [o for o, v in (("--param", constraints.get("params")), ("--fix", fixed)) if v] + \
            ["--" + k.rstrip("s").replace("_", "-") for k in keywords]
        raise OptionError(f"{', '.join(given)} apply to law fits (and `ladder`), not to the procedure {name!r}")
    return law_options


__all__ = ["ROW_PROCEDURES", "ReduceOptions", "RowOptions", "constrained"]
