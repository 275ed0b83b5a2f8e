"""``select``: choose the law (and objective) that extrapolates best, by backtests on the largest scales.

Every candidate law is fitted with every objective (robust Huber on log residuals, the default, and least
squares on raw values) on the inner rows of K extrapolation folds along one axis ``along``
(:mod:`scalefit.fitting.folds`: rolling-origin folds cut between distinct values of a scale symbol or numeric
column, the largest held out; group folds over a categorical column or the mixtures of the data-mixture laws),
or on one fold: ``holdout``, a row filter. The axis defaults to the one the candidates declare, else their scale
symbol (N, C, D, M), else the input with the most distinct values (said in ``notes``).

The ranking metric follows the target: the mean validation RMSLE for a positive target; for a target with
zero or negative values, RMSE (and both objectives on raw residuals), said on the board. The board also shows
R², mean |rel. error|, AIC/BIC of the full-data fit and its degeneracy (:mod:`scalefit.fitting.degeneracy`:
vanished terms, cancelling terms, parameters on bounds) and identifiability findings. The winner is the
candidate with the fewest parameters among those within ``tolerance`` (10%) of the best score (nested laws tie
within the noise; the simpler extrapolates as well), preferring a non-degenerate candidate within
:data:`DEGENERATE_SLACK` of a degenerate best; its full-data fit is kept (``SelectionResult.fit``).
:func:`select_targets` selects for several target columns, one board each. Selection sees only the rows it is
given: pass it the training split of a benchmark, never the test split.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np

from scalefit._progress import each, task
from scalefit.errors import ScalefitError
from scalefit.fitting.api import RunsLike, as_law, as_table, fit_spec, refit_parts
from scalefit.fitting.degeneracy import CANCELLING, degeneracy
from scalefit.fitting.fit_set import members
from scalefit.fitting.folds import MIXTURE, SCALE_SYMBOLS, check_folds, law_axis, table_folds
from scalefit.fitting.rows import filtered_rows
from scalefit.fitting.scores import scores
from scalefit.fitting.selection_result import SelectionResult, SelectionSet
from scalefit.fitting.spec import FitSpec
from scalefit.laws import Law, get_law, list_laws
from scalefit.runs import RunTable, check_mapping, filter_names, filter_rows, resolve

OBJECTIVES = {"huber": {"loss": "huber", "space": None}, "mse": {"loss": "mse", "space": "raw"}}
METRICS = {True: "rmsle", False: "rmse"}  # the ranking metric for a positive target, and for any other
DEGENERATE_SLACK = 0.25  # a non-degenerate candidate within this share of a degenerate best is preferred
FAILURES = (ScalefitError, ValueError, ArithmeticError, np.linalg.LinAlgError)


@dataclass(frozen=True)
class _Fold:
    fit: Any  # row labels to fit on
    held: Any  # row labels to predict
    what: str  # e.g. "N > 3.2e9"


def _build(name: str, table: RunTable, mapping: Mapping[str, str], options: Mapping[str, Any]) -> Law:
    """Law ``name`` with those of ``options`` its factory takes (a data-mixture law: as many domains as the
    columns r1, r2, ... provide, unless ``n`` is given)."""
    takes = set(get_law(name).options)  # the options that rebuild the law: those its factory takes
    opts = {k: v for k, v in options.items() if k in takes}
    law = get_law(name, **opts)
    if law.along == MIXTURE and "n" in takes and "n" not in opts:
        from scalefit.laws.mixture import domains_in

        n = domains_in(table.columns, mapping)
        if n and n != law.options.get("n"):
            law = get_law(name, **{**opts, "n": n})
    return law


def candidate_laws(table: RunTable, mapping: Mapping[str, str] | None = None, target: str | None = None,
                   options: Mapping[str, Any] | None = None) -> list[Law]:
    """Every library law (but ``expr``) whose inputs and target the table's columns provide, built with the
    ``options`` each takes (default options otherwise); with a ``target`` column, the laws of a loss (target
    symbol L) whose inputs the columns provide."""
    out = []
    for name in list_laws():
        if name == "expr":
            continue
        try:
            law = _build(name, table, dict(mapping or {}), dict(options or {}))
            if target and law.target != "L":
                continue
            m = {**dict(mapping or {}), **({law.target: target} if target else {})}
            resolve(table, [*law.inputs, law.target], mapping=m)
        except FAILURES:
            continue
        out.append(law)
    return out


def _as_candidates(candidates, table, mapping, target, options=None) -> list[Law]:
    """Laws from names, Laws or (name, options) pairs; ``options`` (law options for all candidates) go to each
    named law that takes them, under its own options."""
    options = dict(options or {})
    if candidates is None:
        found = candidate_laws(table, mapping, target, options)
        if not found:
            raise ScalefitError(f"{table.source}: no library law's symbols are provided by the columns "
                                f"{table.columns}; name candidates or map columns (--map SYMBOL=COLUMN)")
        return found
    if isinstance(candidates, (str, Law)):
        candidates = [candidates]
    out = []
    for c in candidates:
        if isinstance(c, Law):
            out.append(c)
        else:
            name, own = (c[0], dict(c[1] or {})) if isinstance(c, tuple) else (c, {})
            if name == "expr":
                out.append(as_law(name, own))
                continue
            base = _build(name, table, mapping, {**options, **own})
            out.append(base if not own else as_law(name, {**dict(base.options), **own}))
    return out


def _along(laws: Sequence[Law], table: RunTable, mapping: Mapping[str, str], along: str | None
           ) -> tuple[str, str | None]:
    """(the axis the folds hold out, a note when it was a fallback): given; else the axis every candidate
    declares (e.g. the mixture); else the first of N, C, D, M every candidate takes, else the first of them the
    columns provide; else the candidates' input with the most distinct values."""
    if along is not None:
        return along, None
    declared = {law_axis(law) for law in laws}
    if len(declared) == 1 and declared != {None} and next(iter(declared)) not in SCALE_SYMBOLS:
        return str(next(iter(declared))), None
    common = [s for s in SCALE_SYMBOLS if all(s in law.inputs for law in laws)]
    for s in [*common, *SCALE_SYMBOLS]:
        try:
            resolve(table, [s], mapping=mapping)
            return s, None
        except FAILURES:
            continue
    counts = {}
    for s in dict.fromkeys(s for law in laws for s in law.inputs):
        try:
            counts[s] = len(np.unique(resolve(table, [s], mapping=mapping).values[s]))
        except FAILURES:
            continue
    if not counts:
        raise ScalefitError(f"{table.source}: none of N, C, D, M resolves from the columns {table.columns}; "
                            "say which column to extrapolate along (--along COLUMN)")
    s = max(counts, key=lambda k: counts[k])
    return s, (f"no N, C, D or M column: the folds hold out the largest values of {s} (the input with the most "
               "distinct values); name another axis with --along COLUMN")


def _folds(table: RunTable, along: str, mapping, folds: int | None, fraction: float, holdout: str | None,
           keys: Sequence[str] = ()) -> list[_Fold]:
    """The folds along ``along`` (:func:`scalefit.fitting.folds.table_folds`), or the one ``holdout``."""
    index = table.frame.index
    if holdout is not None:
        held = filter_rows(table, holdout, mapping=mapping, option="--holdout").frame.index
        fits = [_Fold(index.difference(held), held, holdout)]
        if len(fits[0].fit) == 0 or len(held) == 0:
            raise ScalefitError(f"{table.source}: --holdout {holdout!r} leaves nothing to fit or nothing to "
                                f"predict ({len(index)} rows); give another --holdout")
        return fits
    found = table_folds(table, along, mapping=mapping, folds=folds, fraction=fraction, keys=keys)
    if not found:
        raise ScalefitError(f"{table.source}: {along} has too few distinct values to hold some out and keep 2 to "
                            f"fit ({len(index)} rows); extrapolate along another column (--along COLUMN) or give "
                            "--holdout EXPR")
    return [_Fold(index[~f.held], index[f.held], f.describe()) for f in found]


def _predict_scores(law: Law, params: Mapping[str, float], table: RunTable, rows, mapping) -> dict:
    res = resolve(table.subset(rows), [*law.inputs, law.target], mapping=mapping)
    pred = np.asarray(law({s: res.values[s] for s in law.inputs}, params), dtype=float).reshape(-1)
    return scores(res.values[law.target], pred)


def _full_stats(full, table: RunTable, mapping, positive: bool) -> dict:
    """AIC/BIC (summed over groups), degeneracy (vanished terms, cancelling terms, parameters on bounds) and
    identifiability messages of the full-data fit.

    AIC and BIC are the full fits' own ``stats.aic``/``stats.bic`` summed over groups
    (:func:`scalefit.fitting.api.information_criteria`: log residuals of a positive target, raw residuals
    otherwise, whatever the objective, so they compare across laws and objectives)."""
    parts = members(full)
    law = parts[0].law_spec
    k = len(law.params)
    x = resolve(table, law.inputs, mapping=mapping).values
    degs = [degeneracy(law, f.params, x) for f in parts]

    return {
        "aic": float(sum(f.stats["aic"] for f in parts)),
        "bic": float(sum(f.stats["bic"] for f in parts)),
        "n_params": k,
        "on_bounds": sorted({p for d in degs for p in d["on_bounds"]}),
        "vanished": sorted({p for d in degs for p in d["vanished"]}),
        "cancelling": float(max(d["cancelling"] for d in degs)),
        "identifiability": [str(i["message"]) for f in parts for i in f.identifiability],
    }


def degenerate(entry: Mapping) -> bool:
    """A board entry whose full-data fit has a vanished term, nearly cancelling terms or a parameter on a bound."""
    return bool(entry.get("vanished") or entry.get("on_bounds") or entry.get("cancelling", 1.0) > CANCELLING)


def _score_entry(law: Law, objective: str, table: RunTable, opts: dict) -> tuple[dict, FitSpec | None]:
    """One board entry (and its FitSpec) for a law and an objective; failures become a failed entry (None)."""
    entry = {"law": law.name, "law_options": dict(law.options), "objective": objective}
    objective_kw = {**OBJECTIVES[objective], **({} if opts["positive"] else {"space": "raw"})}
    try:
        spec = FitSpec(law, mapping=opts["mapping"], seed=opts["seed"], calibrate=False, **objective_kw)
        full = fit_spec(spec, table, group_by=opts["group_by"])
        entry.update(_full_stats(full, table, opts["mapping"], opts["positive"]))  # the winner's calibration: below
        # every fold of every group: the spec on the fold's training rows alone, in one stacked search
        jobs = []
        for units, folds in opts["splits"]:
            trains = [table.subset(fold.fit) for fold in folds]
            fold_spec = spec.for_folds(trains, opts["fold_starts"])
            jobs += [(units, fold, fold_spec, train) for fold, train in zip(folds, trains)]
        fold_scores = []
        with task("fold refits", len(jobs)) as advance:  # one stacked search: done all at once
            refits = refit_parts([job[2:] for job in jobs])
            advance(len(jobs))
        for (units, fold, _, _), params in zip(jobs, refits):
            if isinstance(params, FAILURES):
                raise params
            if isinstance(params, Exception):  # an engine error on one fold: this candidate failed, not select
                raise ScalefitError(f"fold {fold.what}: {type(params).__name__}: {params}") from params
            fold_scores.append({"fold": fold.what, **({"group": units} if units is not None else {}),
                                **_predict_scores(law, params, table, fold.held, opts["mapping"])})
    except FAILURES as exc:
        return {**entry, "status": "failed", "reason": " ".join(str(exc).split())}, None
    means = {k: float(np.nanmean([f[k] for f in fold_scores])) if any(np.isfinite(f[k]) for f in fold_scores)
             else float("nan") for k in ("r2", "rmsle", "rmse", "mean_abs_rel_error")}
    return {**entry, "status": "ok", **means, "folds": fold_scores}, spec


def _splits(table: RunTable, along, mapping, folds, fraction, holdout, group_by, keys=()) -> list[tuple[Any, list]]:
    """[(group or None, folds)]: the folds of the whole table, or of each group's rows."""
    if group_by is None:
        return [(None, _folds(table, along, mapping, folds, fraction, holdout, keys))]
    if group_by not in table.columns:
        raise ScalefitError(f"{table.source}: --group-by {group_by!r} is not a column; columns are {table.columns}")
    return [(str(value), _folds(table.subset(rows), along, mapping, folds, fraction, holdout, keys))
            for value, rows in table.frame.groupby(group_by, sort=True).groups.items()]


def _rank_key(entry: dict, metric: str) -> tuple:
    if entry["status"] != "ok":
        return (2, 0.0, 0.0)
    r, e = entry[metric], entry["mean_abs_rel_error"]
    return (0 if np.isfinite(r) else 1, r if np.isfinite(r) else 0.0, e if np.isfinite(e) else np.inf)


def _winner(board: list[dict], order: list[int], tolerance: float, metric: str) -> int | None:
    """The simplest candidate (fewest parameters, then best ``metric``) among those whose mean validation score
    is within ``tolerance`` (relative) of the best, non-degenerate ones first: a degenerate best yields to a
    non-degenerate candidate within :data:`DEGENERATE_SLACK` of it; None when none was scored."""
    if board[order[0]]["status"] != "ok":
        return None
    scored = [i for i in order if board[i]["status"] == "ok" and np.isfinite(board[i][metric])]
    if not scored:
        return order[0]
    sound = [i for i in scored if not degenerate(board[i])]
    best = board[scored[0]][metric]
    if sound and board[sound[0]][metric] <= (1 + DEGENERATE_SLACK) * best:
        scored, best = sound, board[sound[0]][metric]
    near = [i for i in scored if board[i][metric] <= (1 + tolerance) * best]
    return min(near, key=lambda i: (board[i]["n_params"], board[i][metric]))


def _positive(laws: Sequence[Law], table: RunTable, mapping: Mapping[str, str], target: str | None) -> bool:
    """Whether the target (the first candidate's, resolved) is positive in every row (True when unresolved)."""
    for law in laws:
        try:
            m = {**mapping, **({law.target: target} if target else {})}
            y = resolve(table, [law.target], mapping=m).values[law.target]
        except FAILURES:
            continue
        y = y[np.isfinite(y)]
        return bool(y.size == 0 or (y > 0).all())
    return True


def select(
    data: RunsLike,
    candidates: Sequence[Law | str | tuple] | Law | str | None = None,
    *,
    along: str | None = None,
    folds: int | None = None,
    fraction: float = 0.1,
    holdout: str | None = None,
    objectives: Sequence[str] = ("huber", "mse"),
    where: str | None = None,
    mapping: Mapping[str, str] | None = None,
    target: str | None = None,
    group_by: str | None = None,
    fold_starts: int = 12,
    seed: int = 0,
    tolerance: float = 0.10,
    law_options: Mapping[str, Any] | None = None,
    calibrate: bool = True,
) -> SelectionResult:
    """Rank candidate laws × objectives by extrapolation backtests and keep the winner's full-data fit.

    candidates: law names, Laws or (name, options) pairs; None = every library law the columns provide.
    law_options: options for every candidate whose factory takes them (a pair's own options win).
    along / folds / fraction: the fold axis (a symbol or column; default: see :func:`_along`), K folds (default:
    2 rolling-origin folds, leave-one-out group folds up to 10) and f, the share each rolling fold adds.
    holdout: one fold instead, the rows this filter selects. objectives: "huber" (log residuals unless the law
    fits raw values or the target is not positive) and/or "mse" (raw residuals). fold_starts / seed: each fold
    refit starts from the optimum of the rows all folds train on and this many points of the law's start grid
    drawn with ``seed`` (:meth:`FitSpec.for_folds`: never from what held-out rows moved). calibrate: calibrate
    the kept fit's prediction intervals (10 fold refits).
    """
    _check(1 if folds is None else folds, fraction, objectives)
    if not (np.isfinite(tolerance) and tolerance >= 0):
        raise ScalefitError(f"tolerance={tolerance}: need a share >= 0 (0.1: within 10% of the best score)")
    table, mapping = filtered_rows(data, where, mapping)
    laws = _as_candidates(candidates, table, mapping, target, law_options)
    used = [s for law in laws for s in (*law.inputs, law.target)] + ([] if along is None else [along])
    check_mapping(mapping, used + filter_names(where) + filter_names(holdout),
                  f"the candidates ({', '.join(dict.fromkeys(law.name for law in laws))})")
    along, note = _along(laws, table, mapping, along)
    keys = sorted({s for law in laws if law_axis(law) == MIXTURE for s in law.inputs}, key=_natural)
    splits = _splits(table, along, mapping, folds, fraction, holdout, group_by, keys)
    positive = _positive(laws, table, mapping, target)
    metric = METRICS[positive]
    board, fits = [], []
    for law, objective in each("candidates", product(laws, objectives), lambda c: f"{c[0].name}, {c[1]}"):
        opts = {"mapping": {**mapping, **({law.target: target} if target else {})}, "group_by": group_by,
                "splits": splits, "fold_starts": fold_starts, "seed": seed, "positive": positive}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            entry, spec = _score_entry(law, objective, table, opts)
        board.append(entry)
        fits.append(spec)
    order = sorted(range(len(board)), key=lambda i: _rank_key(board[i], metric))
    winner = _winner(board, order, tolerance, metric)
    if winner is not None:
        board[winner] = {**board[winner], "winner": True}
    notes = [note] if note else []
    if not positive:
        notes.append("the target has values <= 0: ranked by RMSE (not RMSLE), both objectives on raw residuals")
    return SelectionResult(
        board=[board[i] for i in order], along=along, holdout=holdout, folds=[f.what for f in splits[0][1]],
        group_by=group_by, objectives=list(objectives),
        data={"source": table.source, "n_rows": len(table), "hash": table.digest(), "where": where,
              **({"target": target} if target else {})},
        fit=None if winner is None else _final_fit(fits[winner], table, group_by, calibrate),
        tolerance=tolerance, metric=metric, notes=notes,
    )


def _final_fit(spec: FitSpec, table: RunTable, group_by, calibrate: bool):
    """The winner's spec fitted on all rows with its prediction intervals calibrated (the candidates' full fits
    skip the calibration, 10 fold refits each, which only the kept fit needs)."""
    spec = spec.replace(calibrate=calibrate)
    with task("winner's full fit", 1, spec.law.name), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_spec(spec, table, group_by=group_by)


def _natural(symbol: str) -> tuple:
    digits = "".join(ch for ch in symbol if ch.isdigit())
    return (symbol.rstrip("0123456789"), int(digits) if digits else 0)


def select_targets(data: RunsLike, targets: Sequence[str], candidates=None, **options: Any) -> SelectionSet:
    """:func:`select` for each target column (the same candidates, folds and options): one board per target."""
    if not targets:
        raise ScalefitError("select_targets: give at least one target column")
    table = as_table(data)
    return SelectionSet({t: select(table, candidates, target=t, **options) for t in each("targets", targets)})


def _check(folds: int, fraction: float, objectives: Sequence[str]) -> None:
    unknown = [o for o in objectives if o not in OBJECTIVES]
    if unknown or not objectives:
        raise ScalefitError(f"objectives {list(objectives)}: each must be one of {sorted(OBJECTIVES)}")
    check_folds(folds, fraction)


__all__ = ["DEGENERATE_SLACK", "METRICS", "OBJECTIVES", "candidate_laws", "degenerate", "select", "select_targets"]
