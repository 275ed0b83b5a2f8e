"""``fit`` and ``backtest``: the library's entry points for fitting a law to a run log."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from scalefit._progress import task
from scalefit._schema import expect_argument
from scalefit.errors import BoundWarning, ConvergenceWarning, FitError, IdentifiabilityWarning, RunDataError
from scalefit.fitting.bootstrap import bootstrap_fits
from scalefit.fitting.covariance import covariance
from scalefit.fitting.fit_set import FitSet
from scalefit.fitting.identifiability import identifiability
from scalefit.fitting.objective import Problem
from scalefit.fitting.result import FitResult
from scalefit.fitting.rows import clusters as row_clusters
from scalefit.fitting.rows import fit_problem
from scalefit.fitting.rows import summary as rows_summary
from scalefit.fitting.search import multi_starts
from scalefit.fitting.spec import FOLD_EXHAUSTIVE_ROWS, FitSpec
from scalefit.laws import Law, get_law
from scalefit.runs import RunTable, read_runs, resolve

RunsLike = RunTable | pd.DataFrame | str | Path


def as_table(data: RunsLike) -> RunTable:
    """A RunTable from a table, a DataFrame (copied) or a path."""
    if isinstance(data, RunTable):
        return data
    if isinstance(data, pd.DataFrame):
        return RunTable.from_frame(data)
    expect_argument(data, "data", (str, Path), "a run log: a path, a pandas DataFrame or a RunTable")
    return read_runs(data)


def as_law(law: Law | str, options: Mapping[str, Any] | None = None) -> Law:
    expect_argument(law, "law", (Law, str), "a law name such as 'chinchilla' or a Law")
    expect_argument(options or {}, "law_options", Mapping, "a dict of law options")
    return get_law(law, **dict(options or {})) if isinstance(law, str) else law


def fit(name: Law | str, data: RunsLike, **options: Any) -> Any:
    """Fit a law or run a fitting procedure: ``scalefit.fit("chinchilla", runs, bootstrap=1000)``,
    ``scalefit.fit("isoflop", runs)``. Laws (a name or a Law) go to :func:`fit_law` (options below); the names
    of :mod:`scalefit.procedures` (isoflop, envelope, hparams, lr-transfer, lr-annealing) to their function.
    ``target=["loss_a", "loss_b"]`` fits the law to each column (:mod:`scalefit.fitting.multi_target`).
    ``map={"N": "n_params"}`` says which column feeds a symbol, like the CLI's ``--map N=n_params`` (the older
    ``mapping=`` still works, with a DeprecationWarning). Its signature lists the law-fit keywords
    (``help(scalefit.fit)``); a procedure takes its own (:mod:`scalefit.procedures`).
    """
    from scalefit.procedures import PROCEDURES

    options = map_keyword(options, "scalefit.fit")
    if isinstance(name, str) and name in PROCEDURES:
        return PROCEDURES[name](data, **options)
    target = options.get("target")
    if target is not None and not isinstance(target, str):  # several target columns: one fit each
        from scalefit.fitting.multi_target import target_columns

        data = as_table(data)
        options["target"] = target_columns(data, target)
    return fit_law(name, data, **options)


def map_keyword(options: dict, what: str) -> dict:
    """``options`` with the column mapping under ``mapping`` (the spec's field): given as ``map=``, the name of the
    CLI's ``--map``, or as ``mapping=``, its deprecated name (a DeprecationWarning at the user's call of ``what``)."""
    from scalefit.fitting.extrapolation import user_stacklevel

    if "mapping" in options:
        if "map" in options:
            raise TypeError("give the column mapping once: map= (mapping= is its deprecated name)")
        warnings.warn(f"{what}(mapping=...) is deprecated: use map=, the name of the CLI's --map",
                      DeprecationWarning, stacklevel=user_stacklevel())
    return {("mapping" if k == "map" else k): v for k, v in options.items()}


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
) -> FitResult | FitSet:
    """Fit ``law`` to a run log; see DESIGN.md "Fits". Inputs are never mutated.

    target: column for the law's target symbol (default: resolved by alias, e.g. ``loss``); a list of columns
    fits the law to each, searched together, into one FitSet keyed by column (:mod:`scalefit.fitting.fit_set`).
    mapping: symbol -> column overrides (``{"N": "n_params"}``). where: row filter expression.
    group_by: fit the same law separately for each value of this column (a FitSet keyed by value).
    loss / delta / space: objective (sum of Huber(delta) on log residuals by default).
    bootstrap / seed: number of resamples of runs (with replacement) for percentile intervals.
    starts: (S, P) start points in natural units, overriding the law's start grid.
    bootstrap_by: resample whole groups of rows with equal values in this column (e.g. all checkpoints
    of a run); by default rows are resampled, or runs when a ``run_id`` column repeats across rows.
    calibrate: calibrate prediction intervals on extrapolation folds (:mod:`scalefit.fitting.calibration`).
    params / fix: (init, min, max) per parameter / parameters held fixed (:meth:`Law.constrained`). anchors /
    weight / run / reduce / skip_first / smooth / order: see :mod:`scalefit.fitting.rows`.
    """
    spec = FitSpec.of(law, law_options=law_options, params=params, fix=fix, mapping=mapping, where=where, loss=loss,
                      delta=delta, space=space, bootstrap=bootstrap, seed=seed, bootstrap_by=bootstrap_by,
                      calibrate=calibrate, starts=starts, run=run, reduce=reduce, skip_first=skip_first, smooth=smooth,
                      order=order, weight=weight, anchors=anchors)
    return fit_spec(spec, data, target=target, group_by=group_by)


def fit_spec(spec: FitSpec, data: RunsLike, *, target: str | Sequence[str] | None = None,
             group_by: str | None = None) -> FitResult | FitSet:
    """``spec`` fitted to ``data`` with the target column ``target``: one FitResult, or a FitSet of one fit per
    value of column ``group_by`` or per target column when ``target`` lists several (``fit_law`` and the CLI)."""
    if target is not None and not isinstance(target, str):
        if group_by is not None:
            raise RunDataError("a multi-target fit cannot also be grouped (--group-by): fit each target with "
                               "--target COLUMN --group-by COLUMN")
        return spec.fit_targets(data, list(target))
    spec = spec if target is None else spec.replace(target=target)
    return spec.fit(data) if group_by is None else spec.fit_groups(data, group_by)


def _signature_of_fit():
    """``fit``'s signature as a user reads it: the law-fit keywords of :func:`fit_law` (``map`` for ``mapping``)
    and the options of a procedure."""
    import inspect

    own = inspect.signature(fit_law).parameters
    params = [inspect.Parameter("name", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation="Law | str"),
              own["data"], *(p.replace(name="map") if p.name == "mapping" else p for k, p in own.items()
                             if k not in ("law", "data")),
              inspect.Parameter("procedure_options", inspect.Parameter.VAR_KEYWORD)]
    return inspect.Signature(params, return_annotation="FitResult | FitSet | procedure result")


def fit_parts(parts: list[tuple[RunTable, FitSpec, str | None]], spec: FitSpec,
              specs: Sequence[FitSpec] | None = None) -> list[FitResult]:
    """One fit per (prepared rows, prepared spec, group label) of ``spec`` (:meth:`FitSpec.prepare`): their
    start grids descend together (one engine pass, :func:`scalefit.fitting.search.multi_starts`), each is
    diagnosed and bootstrapped, and the fold refits of all their calibrations descend together too. Each result
    records ``spec`` (or its own of ``specs``, for a multi-target fit)."""
    from scalefit.fitting.calibrate_fits import with_calibrations

    # The search runs its own threads over tiny matrices; BLAS threads on top only oversubscribe the cores.
    with threadpool_limits(1, user_api="blas"):
        fits = [_Prepared.of(table, prepared, group) for table, prepared, group in parts]
        searches = _searches(fits)
        results = [fit.result(search, own) for fit, search, own in zip(fits, searches, specs or [spec] * len(fits))]
    if not spec.calibrate:
        return results
    return with_calibrations([(fit.table, fit.spec, r) for fit, r in zip(fits, results)])


def refit_parts(jobs: Sequence[tuple[FitSpec, RunTable]]) -> list:
    """:meth:`FitSpec.refit` of several specs (of one law): the parameters of each (spec, table) fitted (one
    stacked search; if that fails, each alone), or the exception of a table that could not be fitted."""
    from scalefit.fitting.calibration import FAILURES

    def attempt(fn):
        try:
            return fn()
        except (*FAILURES, TypeError, KeyError, IndexError) as exc:
            return exc

    fits = [attempt(lambda s=s, t=t: _Prepared.of(*s.prepare(t), None)) for s, t in jobs]
    ok = [f for f in fits if isinstance(f, _Prepared)]
    # Fold refits search without the nested laws' seeds (a full search each, per fold, would cost more than the
    # refits themselves): their starts are the core optimum and a grid sample (FitSpec.for_folds); the nested
    # seeds are for the full fits, whose training objective they keep never worse than the smaller law's.
    def search(fits):  # the fold refits' search: no nested seeds, large folds screened
        return multi_starts([f.problem for f in fits], [f.spec.start_points() for f in fits], nested=False,
                            exhaustive_rows=FOLD_EXHAUSTIVE_ROWS)

    with threadpool_limits(1, user_api="blas"):
        found = attempt(lambda: search(ok))
        if isinstance(found, Exception):
            found = [attempt(lambda f=f: search([f])[0]) for f in ok]
    searches = dict(zip(map(id, ok), found))

    def params(fit):
        search = searches[id(fit)]
        if isinstance(search, Exception) or not np.isfinite(search.objective):
            return search if isinstance(search, Exception) else FitError("no start gave a finite objective")
        return dict(zip(fit.spec.law.param_names, map(float, fit.problem.to_natural(search.theta)[0])))

    return [f if isinstance(f, Exception) else params(f) for f in fits]


@dataclass(frozen=True)
class _Prepared:
    """One fit before its search: its rows, prepared spec, resolved columns, target and objective."""

    table: RunTable
    spec: FitSpec  # prepared (FitSpec.prepare): mapping with the target, run key resolved, anchors checked
    group: str | None  # the group being fitted ("column = value"), named in warnings
    res: Any  # resolved columns (scalefit.runs.resolve)
    y: np.ndarray
    problem: Problem

    @classmethod
    def of(cls, table: RunTable, spec: FitSpec, group: str | None) -> _Prepared:
        res, y = _resolve_target(spec.law, table, spec)
        problem = fit_problem(spec.law, table, res, y, spec, loss=spec.loss, delta=spec.delta, space=spec.space)
        return cls(table, spec, group, res, y, problem)

    def result(self, search, asked: FitSpec) -> FitResult:
        """Warn about what the optimum shows, bootstrap, summarise (``asked``: the spec as given, recorded)."""
        law, table, spec, problem = asked.law, self.table, self.spec, self.problem
        natural = problem.to_natural(search.theta)[0]
        params = {name: float(v) for name, v in zip(law.param_names, natural)}
        notes, findings = _warn_about_optimum(law, params, search, problem, self.group)
        boot, unit = _bootstrap(law, table, self.res.rows, problem, search, spec) if spec.bootstrap else (None, None)
        data = _data_summary(law, table, self.res, spec, asked)
        if spec.bootstrap:
            data["bootstrap_unit"] = unit or "row"
        return FitResult(
            law=law.name, law_options=dict(law.options), params=params,
            stats=_fit_stats(problem, search, self.y, spec), search=_search_summary(law, search, notes), data=data,
            bootstrap=boot, seed=spec.seed if spec.bootstrap else None, identifiability=findings, spec=asked,
            covariance=covariance(problem, search.theta),
        )


def _resolve_target(law: Law, table: RunTable, spec: FitSpec):
    """The resolved inputs and target, refusing a target the objective's space cannot take and too few rows."""
    res = resolve(table, [*law.inputs, law.target], mapping=spec.columns)
    y = res.values[law.target]
    if spec.space == "log" and (y <= 0).any():
        i = int(np.flatnonzero(y <= 0)[0])
        col = res.provenance[law.target]
        raise RunDataError(
            f"{table.location(res.rows[i])}: target {law.target} ({col}) is {y[i]:g}; a target with "
            "non-positive values cannot be fitted in log space: use --space raw (space='raw')"
        )
    n_par = len(law.params)
    if len(y) + len(spec.anchors) < n_par:
        raise RunDataError(
            f"{table.source}: {len(y)} rows but law {law.name!r} has {n_par} free parameters "
            f"({', '.join(law.param_names)}); a fit needs at least as many rows as parameters"
        )
    return res, y


def _searches(fits: list[_Prepared]) -> list:
    """Multi-start search of each fit from its spec's starts, together; FitError when no start of a fit is
    finite."""
    what = ", ".join(dict.fromkeys(f.spec.law.name for f in fits)) + (f"; {len(fits)} fits" if len(fits) > 1 else "")
    with task("multi-start search", 1, what) as advance:
        searches = multi_starts([f.problem for f in fits], [f.spec.start_points() for f in fits])
        advance(1)
    for fit, search in zip(fits, searches):
        if not np.isfinite(search.objective):
            where = f" ({fit.group})" if fit.group else ""
            raise FitError(
                f"law {fit.spec.law.name!r}: no start gave a finite objective on {fit.table.source}{where}; check "
                "the data's scale and the parameter bounds, or pass better starts"
            )
    return searches


def _warn_about_optimum(law: Law, params: Mapping[str, float], search, problem: Problem, group: str | None):
    """Warn (bounds, convergence, identifiability) and return the notes and identifiability findings."""
    from scalefit.fitting.extrapolation import user_stacklevel

    level = user_stacklevel()  # at the caller's line, whichever entry point (fit_law, FitSpec.fit, ...) it used
    notes = _diagnose(law, params, search)
    for note, cls in notes:
        warnings.warn(note, cls, stacklevel=level)
    findings = identifiability(problem, search.theta)
    for f in findings:
        warnings.warn(f"{group}: {f['message']}" if group else f["message"], IdentifiabilityWarning, stacklevel=level)
    return notes, findings


def _bootstrap(law: Law, table: RunTable, rows, problem: Problem, search, spec: FitSpec) -> tuple[dict, str | None]:
    """Natural-unit bootstrap samples per parameter, and the resampled unit (a column, or None for rows)."""
    clusters, unit = row_clusters(table, rows, spec.bootstrap_by, spec.run)
    # Each resample starts from the optimum and from the next-best distinct optima of the search, so a
    # resample whose optimum lies in another basin (or off a collapsed parameter) can still reach it.
    starts = np.vstack([search.theta[None, :], search.candidates[1:3]])
    bt, _ = bootstrap_fits(problem, starts, spec.bootstrap, spec.seed, groups=clusters)
    nat = problem.to_natural(bt)
    return {name: nat[:, j].tolist() for j, name in enumerate(law.param_names)}, unit


def _fit_stats(problem: Problem, search, y: np.ndarray, spec: FitSpec) -> dict:
    """Objective, errors (RMSE in log and raw units) and information criteria at the optimum."""
    pred = np.array(problem.predict(search.theta[None, :])[0])[: len(y)]  # the data rows, not the anchors
    with np.errstate(all="ignore"):
        r_log = np.log(pred) - np.log(y) if (y > 0).all() else pred - y
    n_par = len(problem.law.params)
    aic, bic = information_criteria(r_log, n_par)
    return {
        "n": len(y),
        "n_params": n_par,
        "objective": float(search.objective),
        "loss": spec.loss,
        "delta": spec.delta,
        "space": spec.space,
        "rmse_log": float(np.sqrt(np.mean(r_log**2))),
        "rmse": float(np.sqrt(np.mean((pred - y) ** 2))),
        "aic": aic,
        "bic": bic,
    }


def information_criteria(r: np.ndarray, n_params: int) -> tuple[float, float]:
    """(AIC, BIC) = (n ln(RSS/n) + 2k, n ln(RSS/n) + k ln n) of the residuals ``r`` of the n data rows (k free
    parameters; RSS floored at 1e-300). The one definition: a fit's ``stats`` and the ``select`` board pass the
    log residuals ln(pred/actual) of a positive target, the raw residuals pred - actual otherwise, whatever the
    objective, so the criteria compare across objectives and laws."""
    n = len(r)
    fit = n * np.log(max(float(np.sum(r * r)), 1e-300) / n)
    return float(fit + 2 * n_params), float(fit + n_params * np.log(n))


def _search_summary(law: Law, search, notes: list[tuple[str, type]]) -> dict:
    return {
        "n_starts": search.n_starts,
        "n_reached": search.n_reached,
        "best_start": dict(zip(law.param_names, map(float, search.best_start))),
        "converged": search.converged,
        "message": search.message,
        "warnings": [note for note, _ in notes],
        **({"screen": dict(search.screen)} if search.screen else {}),
        **({"widened": search.widened} if getattr(search, "widened", 0) else {}),  # starts added: few reached
        **({"nested": list(search.nested)} if getattr(search, "nested", ()) else {}),  # laws whose optima seeded
    }


def _data_summary(law: Law, table: RunTable, res, spec: FitSpec, asked: FitSpec) -> dict:
    """What was fitted: source, rows, hash, filter, target, column provenance, mapping and input ranges."""
    all_syms = [*law.inputs, law.target]
    return {
        "source": table.source,
        "n_rows": len(res.values[law.target]),
        "hash": table.digest(),
        "where": asked.where,
        "target": law.target,
        "provenance": dict(res.provenance),
        "mapping": dict(spec.mapping),
        "ranges": {s: [float(np.min(res.values[s])), float(np.max(res.values[s]))] for s in all_syms},
        **rows_summary(asked.replace(run=spec.run, order=spec.order, anchors=spec.anchors)),
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


fit.__signature__ = _signature_of_fit()  # help(scalefit.fit) and notebooks show the real keywords
