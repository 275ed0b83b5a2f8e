"""``scalefit fit isoflop RUNS.csv`` and ``scalefit fit envelope CURVES.csv``: Chinchilla Approaches 2 and 1.

Thin adapters from `scalefit fit`'s options to ``scalefit.planning.isoflop`` / ``scalefit.planning.envelope``.
Options: ``--group-by COL`` (isoflop: equal-compute labels), ``--opt tol=DECADES`` (isoflop grouping of
log10 C, default 0.05), ``--opt run=COL`` and ``--opt grid=N`` (envelope), ``--target COL`` for the loss.
"""

from __future__ import annotations

from scalefit.cli.fit_cmd import Procedure, register_procedure
from scalefit.cli.options import OptionError, procedure_options

_ALLOWED = {"isoflop": {"tol"}, "envelope": {"run", "grid"}}


def _options(call: Procedure) -> dict:
    return procedure_options(call, _ALLOWED[call.name])


@register_procedure("isoflop")
def fit_isoflop(call: Procedure):
    from scalefit.fitting import fit

    fitting = call.fitting
    tol = _options(call).get("tol", 0.05)
    if not isinstance(tol, float):
        raise OptionError(f"--opt tol={tol}: give the grouping tolerance in decades of compute, e.g. tol=0.05")
    return fit("isoflop", call.runs, map=fitting.mapping, target=fitting.target, where=fitting.where,
               group_by=fitting.group_by, tol=tol, bootstrap=fitting.bootstrap, seed=fitting.seed)


@register_procedure("envelope")
def fit_envelope(call: Procedure):
    from scalefit.fitting import fit

    fitting = call.fitting
    opts = _options(call)
    if fitting.group_by is not None:
        raise OptionError("`scalefit fit envelope` tells runs apart with --opt run=COLUMN, not --group-by")
    grid = opts.get("grid", 40)
    if not isinstance(grid, (int, float)) or float(grid) != int(grid):
        raise OptionError(f"--opt grid={grid}: give a whole number of compute grid points")
    return fit("envelope", call.runs, map=fitting.mapping, target=fitting.target, where=fitting.where,
               run_col=opts.get("run"), n_grid=int(grid), bootstrap=fitting.bootstrap, seed=fitting.seed)
