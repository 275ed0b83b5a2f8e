"""``fit`` and ``backtest``: the library's entry points for fitting a law to a run log."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from scalefit.errors import BoundWarning, ConvergenceWarning, FitError, IdentifiabilityWarning, RunDataError
from scalefit.fitting.bootstrap import bootstrap_fits, check_resamples
from scalefit.fitting.identifiability import identifiability
from scalefit.fitting.objective import Problem
from scalefit.fitting.result import FitResult
from scalefit.fitting.rows import RowOptions, fit_problem, prepare
from scalefit.fitting.rows import clusters as row_clusters
from scalefit.fitting.rows import summary as rows_summary
from scalefit.fitting.search import multi_starts
from scalefit.laws import Law, get_law
from scalefit.runs import RunTable, filter_rows, read_runs, resolve

RunsLike = RunTable | pd.DataFrame | str | Path


def as_table(data: RunsLike) -> RunTable:
    """A RunTable from a table, a DataFrame (copied) or a path."""
    if isinstance(data, RunTable):
        return data
    if isinstance(data, pd.DataFrame):
        return RunTable.from_frame(data)
    return read_runs(data)


def as_law(law: Law | str, options: Mapping[str, Any] | None = None) -> Law:
    return get_law(law, **dict(options or {})) if isinstance(law, str) else law


def fit(name: Law | str, data: RunsLike, **options: Any) -> Any:
    """Fit a law or run a fitting procedure: ``scalefit.fit("chinchilla", runs, bootstrap=1000)``,
    ``scalefit.fit("isoflop", runs)``. Laws (a name or a Law) go to :func:`fit_law` (options below); the names
    of :mod:`scalefit.procedures` (isoflop, envelope, hparams, lr-transfer, lr-annealing) to their function.
    ``target=["loss_a", "loss_b"]`` fits the law to each column (:mod:`scalefit.fitting.multi_target`).
    """
    from scalefit.procedures import PROCEDURES

    if isinstance(name, str) and name in PROCEDURES:
        return PROCEDURES[name](data, **options)
    target = options.get("target")
    if target is not None and not isinstance(target, str):  # several target columns: one fit each
        from scalefit.fitting.multi_target import target_columns

        data = as_table(data)
        options["target"] = target_columns(data, target)
    return fit_law(name, data, **options)


def fit_law(
    law: Law | str,
    data: RunsLike,
    *,
    target: str | Sequence[str] | None = None,
    mapping: Mapping[str, str] | None = None,
    where: str | None = None,
    group_by: str | None = None,
    loss: str = "huber",
    delta: float = 1e-3,
    space: str | None = None,
    bootstrap: int = 0,
    seed: int = 0,
    starts: np.ndarray | None = None,
    law_options: Mapping[str, Any] | None = None,
    bootstrap_by: str | None = None,
    calibrate: bool = True,
    params: Mapping[str, Any] | None = None, fix: Mapping[str, float] | None = None,
    anchors: Sequence[Mapping[str, float] | str] = (), weight: str | None = None, run: str | None = None,
    reduce: str | None = None, skip_first: float = 0.0, smooth: int | None = None, order: str | None = None,
) -> FitResult:
    """Fit ``law`` to a run log; see DESIGN.md "Fits". Inputs are never mutated.

    target: column for the law's target symbol (default: resolved by alias, e.g. ``loss``); a list of columns
    fits the law to each, searched together, into one multi-target result (:mod:`scalefit.fitting.multi_target`).
    mapping: symbol -> column overrides (``{"N": "n_params"}``). where: row filter expression.
    group_by: fit the same law separately for each value of this column.
    loss / delta / space: objective (sum of Huber(delta) on log residuals by default).
    bootstrap / seed: number of resamples of runs (with replacement) for percentile intervals.
    starts: (S, P) start points in natural units, overriding the law's start grid.
    bootstrap_by: resample whole groups of rows with equal values in this column (e.g. all checkpoints
    of a run); by default rows are resampled, or runs when a ``run_id`` column repeats across rows.
    calibrate: calibrate prediction intervals on extrapolation folds (:mod:`scalefit.fitting.calibration`).
    params / fix: (init, min, max) per parameter / parameters held fixed (:meth:`Law.constrained`). anchors /
    weight / run / reduce / skip_first / smooth / order: see :mod:`scalefit.fitting.rows`.
    """
    law = as_law(law, law_options).constrained(params, fix)
    space = space or ("log" if law.positive_target else "raw")
    check_resamples(bootstrap)  # a negative or unusable resample count: one line, before any work
    row_opts = RowOptions(run, reduce, skip_first, smooth, order, weight, tuple(anchors), bootstrap_by)
    base = _Options(dict(mapping or {}), where, loss, delta, space, bootstrap, seed, starts, bootstrap_by,
                    rows=row_opts)
    if target is not None and not isinstance(target, str):
        return _fit_targets(law, as_table(data), list(target), base, group_by, calibrate)
    table, opts = _rows_for(law, as_table(data), target, base)
    if group_by is None:
        return _fit_many(law, [(table, opts)], calibrate)[0]
    if group_by not in table.columns:
        raise RunDataError(f"{table.source}: --group-by {group_by!r} is not a column; columns are {table.columns}")
    groups = _fit_groups(law, table, group_by, opts, calibrate)
    first = next(iter(groups.values()))
    return FitResult(
        law=law.name, law_options=dict(law.options), params={}, stats={}, search={},
        data={**first.data, "source": table.source, "n_rows": len(table), "hash": table.digest()},
        seed=seed if bootstrap else None, groups=groups, group_by=group_by,
    )


def _rows_for(law: Law, table: RunTable, target: str | None, base: _Options) -> tuple[RunTable, _Options]:
    """The rows a fit of ``target`` sees (filtered, reduced, with anchors) and its options."""
    mapping = dict(base.mapping)
    if target is not None:
        mapping[law.target] = target
    table, rows = prepare(filter_rows(table, base.where, mapping=mapping), law, mapping, base.rows, base.space)
    return table, replace(base, mapping=mapping, rows=rows)


def _fit_targets(law: Law, table: RunTable, targets: list[str], base: _Options, group_by: str | None,
                 calibrate: bool) -> FitResult:
    """The law fitted to each target column, searched (and calibrated) together, as one multi-target result."""
    from scalefit.fitting.multi_target import targets_result

    if group_by is not None:
        raise RunDataError("a multi-target fit cannot also be grouped (--group-by): fit each target with "
                           "--target COLUMN --group-by COLUMN")
    fits = _fit_many(law, [_rows_for(law, table, t, base) for t in targets], calibrate)
    return targets_result(table, dict(zip(targets, fits)))


@dataclass(frozen=True)
class _Options:
    mapping: dict  # symbol -> column
    where: str | None  # row filter (recorded)
    loss: str  # huber | mse
    delta: float  # Huber threshold
    space: str  # log | raw
    bootstrap: int  # resamples
    seed: int  # bootstrap seed
    starts: np.ndarray | None  # custom starts
    bootstrap_by: str | None  # resampling unit column
    group: str | None = None  # the group being fitted ("column = value"), named in identifiability warnings
    rows: RowOptions = RowOptions()  # run key, reducers, row weights and anchors (scalefit.fitting.rows)


def _fit_groups(law: Law, table: RunTable, group_by: str, opts: _Options, calibrate: bool) -> dict[str, FitResult]:
    """One fit per value of ``group_by`` (:func:`_fit_many`)."""
    values = table.frame.groupby(group_by, sort=True).groups
    parts = [(table.subset(rows), replace(opts, group=f"{group_by} = {value}")) for value, rows in values.items()]
    return dict(zip(map(str, values), _fit_many(law, parts, calibrate)))


def _fit_many(law: Law, parts: list[tuple[RunTable, _Options]], calibrate: bool) -> list[FitResult]:
    """One fit per (rows, options): their start grids descend together (one engine pass,
    :func:`scalefit.fitting.search.multi_starts`), each is diagnosed and bootstrapped, and the fold refits of
    all their calibrations descend together too."""
    from scalefit.fitting.calibrate_fits import with_calibrations

    # The search runs its own threads over tiny matrices; BLAS threads on top only oversubscribe the cores.
    with threadpool_limits(1, user_api="blas"):
        fits = [_Prepared.of(law, table, opts) for table, opts in parts]
        results = [fit.result(search) for fit, search in zip(fits, _searches(law, fits, parts[0][1].starts))]
    if not calibrate:
        return results
    return with_calibrations(law, [(fit.table, fit.opts, r) for fit, r in zip(fits, results)])


@dataclass(frozen=True)
class _Prepared:
    """One fit before its search: its rows, options, resolved columns, target and objective."""

    law: Law
    table: RunTable
    opts: _Options
    res: Any  # resolved columns (scalefit.runs.resolve)
    y: np.ndarray
    problem: Problem

    @classmethod
    def of(cls, law: Law, table: RunTable, opts: _Options) -> _Prepared:
        res, y = _resolve_target(law, table, opts)
        problem = fit_problem(law, table, res, y, opts.rows, loss=opts.loss, delta=opts.delta, space=opts.space)
        return cls(law, table, opts, res, y, problem)

    def result(self, search) -> FitResult:
        """Warn about what the optimum shows, bootstrap, summarise."""
        law, table, opts, problem = self.law, self.table, self.opts, self.problem
        natural = problem.to_natural(search.theta)[0]
        params = {name: float(v) for name, v in zip(law.param_names, natural)}
        notes, findings = _warn_about_optimum(law, params, search, problem, opts.group)
        boot, unit = _bootstrap(law, table, self.res.rows, problem, search, opts) if opts.bootstrap else (None, None)
        data = _data_summary(law, table, self.res, opts)
        if opts.bootstrap:
            data["bootstrap_unit"] = unit or "row"
        return FitResult(
            law=law.name, law_options=dict(law.options), params=params,
            stats=_fit_stats(problem, search, self.y, opts), search=_search_summary(law, search, notes), data=data,
            bootstrap=boot, seed=opts.seed if opts.bootstrap else None, identifiability=findings,
        )


def _resolve_target(law: Law, table: RunTable, opts: _Options):
    """The resolved inputs and target, refusing a target the objective's space cannot take and too few rows."""
    res = resolve(table, [*law.inputs, law.target], mapping=opts.mapping)
    y = res.values[law.target]
    if opts.space == "log" and (y <= 0).any():
        i = int(np.flatnonzero(y <= 0)[0])
        col = res.provenance[law.target]
        raise RunDataError(
            f"{table.location(res.rows[i])}: target {law.target} ({col}) is {y[i]:g}; a target with "
            "non-positive values cannot be fitted in log space: use --space raw (space='raw')"
        )
    n_par = len(law.params)
    if len(y) + len(opts.rows.anchors) < n_par:
        raise RunDataError(
            f"{table.source}: {len(y)} rows but law {law.name!r} has {n_par} free parameters "
            f"({', '.join(law.param_names)}); a fit needs at least as many rows as parameters"
        )
    return res, y


def _searches(law: Law, fits: list[_Prepared], starts: np.ndarray | None) -> list:
    """Multi-start search of each fit from the law's start grid (or ``starts``), together; FitError when no
    start of a fit is finite."""
    grid = law.start_grid() if starts is None else np.atleast_2d(np.asarray(starts, dtype=float))
    searches = multi_starts([f.problem for f in fits], [grid] * len(fits))
    for fit, search in zip(fits, searches):
        if not np.isfinite(search.objective):
            where = f" ({fit.opts.group})" if fit.opts.group else ""
            raise FitError(
                f"law {law.name!r}: no start gave a finite objective on {fit.table.source}{where}; check the "
                "data's scale and the parameter bounds, or pass better starts"
            )
    return searches


def _warn_about_optimum(law: Law, params: Mapping[str, float], search, problem: Problem, group: str | None):
    """Warn (bounds, convergence, identifiability) and return the notes and identifiability findings."""
    # stacklevel 4: this helper, _Prepared.result, _fit_many, then fit_law (or _fit_groups, _fit_targets).
    notes = _diagnose(law, params, search)
    for note, cls in notes:
        warnings.warn(note, cls, stacklevel=4)
    findings = identifiability(problem, search.theta)
    for f in findings:
        warnings.warn(f"{group}: {f['message']}" if group else f["message"], IdentifiabilityWarning, stacklevel=4)
    return notes, findings


def _bootstrap(law: Law, table: RunTable, rows, problem: Problem, search, opts: _Options) -> tuple[dict, str | None]:
    """Natural-unit bootstrap samples per parameter, and the resampled unit (a column, or None for rows)."""
    clusters, unit = row_clusters(table, rows, opts.bootstrap_by, opts.rows.run)
    # Each resample starts from the optimum and from the next-best distinct optima of the search, so a
    # resample whose optimum lies in another basin (or off a collapsed parameter) can still reach it.
    starts = np.vstack([search.theta[None, :], search.candidates[1:3]])
    bt, _ = bootstrap_fits(problem, starts, opts.bootstrap, opts.seed, groups=clusters)
    nat = problem.to_natural(bt)
    return {name: nat[:, j].tolist() for j, name in enumerate(law.param_names)}, unit


def _fit_stats(problem: Problem, search, y: np.ndarray, opts: _Options) -> dict:
    """Objective, errors (RMSE in log and raw units) and information criteria at the optimum."""
    pred = np.array(problem.predict(search.theta[None, :])[0])
    r = problem.residuals_from(pred[None, :])[0][: len(y)]  # the data rows, not the anchors
    pred = pred[: len(y)]
    with np.errstate(all="ignore"):
        r_log = np.log(pred) - np.log(y) if (y > 0).all() else r
    rss = float(np.sum(r * r))
    n, n_par = len(y), len(problem.law.params)
    return {
        "n": n,
        "n_params": n_par,
        "objective": float(search.objective),
        "loss": opts.loss,
        "delta": opts.delta,
        "space": opts.space,
        "rmse_log": float(np.sqrt(np.mean(r_log**2))),
        "rmse": float(np.sqrt(np.mean((pred - y) ** 2))),
        "aic": float(n * np.log(max(rss, 1e-300) / n) + 2 * n_par),
        "bic": float(n * np.log(max(rss, 1e-300) / n) + n_par * np.log(n)),
    }


def _search_summary(law: Law, search, notes: list[tuple[str, type]]) -> dict:
    return {
        "n_starts": search.n_starts,
        "n_reached": search.n_reached,
        "best_start": dict(zip(law.param_names, map(float, search.best_start))),
        "converged": search.converged,
        "message": search.message,
        "warnings": [note for note, _ in notes],
        **({"screen": dict(search.screen)} if search.screen else {}),
    }


def _data_summary(law: Law, table: RunTable, res, opts: _Options) -> dict:
    """What was fitted: source, rows, hash, filter, target, column provenance, mapping and input ranges."""
    all_syms = [*law.inputs, law.target]
    return {
        "source": table.source,
        "n_rows": len(res.values[law.target]),
        "hash": table.digest(),
        "where": opts.where,
        "target": law.target,
        "provenance": dict(res.provenance),
        "mapping": dict(opts.mapping),
        "ranges": {s: [float(np.min(res.values[s])), float(np.max(res.values[s]))] for s in all_syms},
        **rows_summary(opts.rows),
    }


def _diagnose(law: Law, params: Mapping[str, float], search) -> list[tuple[str, type]]:
    notes = []
    chosen = (law.options.get("constraints") or {}).get("params") or {}  # bounds set with --param
    for p in law.params:
        v = params[p.name]
        for bound, side, by_user in ((p.lower, "lower", (chosen.get(p.name) or [0, None])[1] is not None),
                                     (p.upper, "upper", (chosen.get(p.name) or [0, 0, None])[2] is not None)):
            if np.isfinite(bound) and abs(v - bound) <= 1e-6 * max(1.0, abs(bound)):
                if not (p.log and bound == 0 and v > 0):
                    why = "(set by --param)" if by_user else "(widen the bound or check the data)"
                    notes.append((f"{p.name} = {v:.6g} sits on its {side} bound {bound:g}; the optimum may lie "
                                  f"beyond it {why}", BoundWarning))
        if p.log and p.lower == 0 and 0 < v < 1e-6 * min(g for g in p.grid if g > 0):
            notes.append((f"{p.name} = {v:.3g} collapsed towards 0 (its starts were >= {min(p.grid):.3g}): the data do "
                          f"not determine this term; fix it at 0 (--fix {p.name}=0; fix={{'{p.name}': 0}}), add runs "
                          "that constrain it, or read the law as having one term fewer", BoundWarning))
    if not search.converged:
        notes.append((f"the local refinement did not converge: {search.message}", ConvergenceWarning))
    if search.n_starts >= 10 and search.n_reached == 1:
        notes.append(("only 1 start reached the best optimum; the optimum may be fragile", ConvergenceWarning))
    return notes
