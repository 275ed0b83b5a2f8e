"""``scalefit fit isoflop RUNS.csv`` and ``scalefit fit envelope CURVES.csv``: Chinchilla Approaches 2 and 1.

Thin adapters from `scalefit fit`'s request to ``scalefit.planning.isoflop`` / ``scalefit.planning.envelope``.
Options: ``--group-by COL`` (isoflop: equal-compute labels), ``--opt tol=DECADES`` (isoflop grouping of
log10 C, default 0.05), ``--opt run=COL`` and ``--opt grid=N`` (envelope), ``--target COL`` for the loss.
"""

from __future__ import annotations

from scalefit.cli.fit_cmd import FitRequest, register_procedure
from scalefit.cli.options import OptionError, procedure_options

_ALLOWED = {"isoflop": {"tol"}, "envelope": {"run", "grid"}}


def _options(req: FitRequest) -> dict:
    return procedure_options(req, _ALLOWED[req.name])


@register_procedure("isoflop")
def fit_isoflop(req: FitRequest):
    from scalefit.fitting import fit

    tol = _options(req).get("tol", 0.05)
    if not isinstance(tol, float):
        raise OptionError(f"--opt tol={tol}: give the grouping tolerance in decades of compute, e.g. tol=0.05")
    return fit("isoflop", req.runs, map=req.mapping, target=req.target, where=req.where, group_by=req.group_by,
                   tol=tol, bootstrap=req.bootstrap, seed=req.seed)


@register_procedure("envelope")
def fit_envelope(req: FitRequest):
    from scalefit.fitting import fit

    opts = _options(req)
    if req.group_by is not None:
        raise OptionError("`scalefit fit envelope` tells runs apart with --opt run=COLUMN, not --group-by")
    grid = opts.get("grid", 40)
    if not isinstance(grid, (int, float)) or float(grid) != int(grid):
        raise OptionError(f"--opt grid={grid}: give a whole number of compute grid points")
    return fit("envelope", req.runs, map=req.mapping, target=req.target, where=req.where, run_col=opts.get("run"),
                    n_grid=int(grid), bootstrap=req.bootstrap, seed=req.seed)
