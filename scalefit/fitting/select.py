"""``select``: choose the law (and objective) that extrapolates best, by backtests on the largest scales.

Every candidate law is fitted with every objective (robust Huber on log residuals, the default, and least
squares on raw values) on the inner rows of K nested extrapolation folds along one scale symbol ``along``:
fold k fits the rows below the (1 - k·f) quantile of ``along`` and predicts the rows above (or one fold:
``holdout``, a row filter). Candidates are ranked by the mean validation RMSLE over folds; the board also
shows R², mean |rel. error|, AIC/BIC of the full-data fit, parameters on bounds and identifiability
findings. The winner is the candidate with the fewest parameters among those within ``tolerance`` (10%) of
the lowest RMSLE (nested laws tie within the noise; the simpler extrapolates as well); its full-data fit is
kept (``SelectionResult.fit``). Selection sees only the rows it is
given: pass it the training split of a benchmark, never the test split.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalefit.errors import ScalefitError
from scalefit.fitting.api import RunsLike, as_law, as_table, fit_law
from scalefit.fitting.folds import check_folds, outward_folds
from scalefit.fitting.scores import scores
from scalefit.fitting.selection_result import SelectionResult
from scalefit.laws import Law, get_law, list_laws
from scalefit.runs import RunTable, filter_rows, resolve

OBJECTIVES = {"huber": {"loss": "huber", "space": None}, "mse": {"loss": "mse", "space": "raw"}}
SCALE_SYMBOLS = ("N", "C", "D")
FAILURES = (ScalefitError, ValueError, ArithmeticError, np.linalg.LinAlgError)


@dataclass(frozen=True)
class _Fold:
    fit: Any  # row labels to fit on
    held: Any  # row labels to predict
    what: str  # e.g. "N > 3.2e9"


def candidate_laws(table: RunTable, mapping: Mapping[str, str] | None = None, target: str | None = None) -> list[Law]:
    """Every library law (but ``expr``) whose inputs and target the table's columns provide, default options;
    with a ``target`` column, the loss laws (target symbol L) whose inputs the columns provide."""
    out = []
    for name in list_laws():
        if name == "expr":
            continue
        try:
            law = get_law(name)
            if target and law.target != "L":
                continue
            m = {**dict(mapping or {}), **({law.target: target} if target else {})}
            resolve(table, [*law.inputs, law.target], mapping=m)
        except FAILURES:
            continue
        out.append(law)
    return out


def _as_candidates(candidates, table, mapping, target) -> list[Law]:
    if candidates is None:
        found = candidate_laws(table, mapping, target)
        if not found:
            raise ScalefitError(f"{table.source}: no library law's symbols are provided by the columns "
                                f"{table.columns}; name candidates or map columns (--map SYMBOL=COLUMN)")
        return found
    if isinstance(candidates, (str, Law)):
        candidates = [candidates]
    return [c if isinstance(c, Law) else as_law(c[0], c[1]) if isinstance(c, tuple) else as_law(c)
            for c in candidates]


def _along(laws: Sequence[Law], table: RunTable, mapping: Mapping[str, str], along: str | None) -> str:
    """The scale symbol the folds hold out: given, else the first of N, C, D every candidate takes, else the
    first of them the columns provide."""
    if along is not None:
        return along
    common = [s for s in SCALE_SYMBOLS if all(s in law.inputs for law in laws)]
    for s in [*common, *SCALE_SYMBOLS]:
        try:
            resolve(table, [s], mapping=mapping)
            return s
        except FAILURES:
            continue
    raise ScalefitError(f"{table.source}: none of N, C, D resolves from the columns {table.columns}; "
                        "say which symbol to extrapolate along (--along SYMBOL)")


def _folds(table: RunTable, along: str, mapping, folds: int, fraction: float, holdout: str | None) -> list[_Fold]:
    """Nested outward folds (fold k holds out the rows above the (1 - k·fraction) quantile), or ``holdout``."""
    index = table.frame.index
    if holdout is not None:
        held = filter_rows(table, holdout, mapping=mapping, option="--holdout").frame.index
        fits = [_Fold(index.difference(held), held, holdout)]
    else:
        res = resolve(table, [along], mapping=mapping)
        fits = []
        for fold in outward_folds(res.values[along], along, folds, fraction):
            held = index[np.isin(index, res.rows[fold.held])]
            fits.append(_Fold(index.difference(held), held, fold.what))
    bad = [f.what for f in fits if len(f.fit) == 0 or len(f.held) == 0] or ([] if fits else [f"top {fraction:g}"])
    if bad:
        raise ScalefitError(f"{table.source}: fold {bad[0]} leaves nothing to fit or nothing to predict "
                            f"({len(index)} rows); use fewer --folds or another --holdout")
    return fits


def _fold_starts(full, law: Law, n_starts: int, seed: int) -> np.ndarray:
    """The full-data optimum plus a seeded subsample of the law's start grid."""
    grid = law.start_grid()
    rng = np.random.default_rng(seed)
    pick = grid[rng.choice(len(grid), size=min(n_starts, len(grid)), replace=False)]
    best = np.array([[full.params[p] for p in law.param_names]])
    return np.vstack([best, pick])


def _predict_scores(fitted, law: Law, table: RunTable, rows, mapping) -> dict:
    res = resolve(table.subset(rows), [*law.inputs, law.target], mapping=mapping)
    pred = fitted.predict({s: res.values[s] for s in law.inputs})
    return scores(res.values[law.target], pred)


def _on_bounds(law: Law, params: Mapping[str, float]) -> list[str]:
    out = []
    for p in law.params:
        v = params[p.name]
        for bound in (p.lower, p.upper):
            if np.isfinite(bound) and abs(v - bound) <= 1e-6 * max(1.0, abs(bound)) and not (p.log and bound == 0):
                out.append(p.name)
    return out


def _full_stats(full) -> dict:
    """AIC/BIC (summed over groups), parameters on bounds and identifiability messages of the full-data fit.

    AIC and BIC are computed from the log residuals (n ln(RMSE_log²) + 2k, + k ln n) whatever the objective, so
    they compare across laws and objectives (a fit's own ``stats.aic`` uses its objective's residual space)."""
    parts = list(full.groups.values()) if full.groups else [full]
    law = full.law_spec
    k = len(law.params)

    def ic(f, penalty: float) -> float:
        n = f.stats["n"]
        return float(n * np.log(max(f.stats["rmse_log"], 1e-150) ** 2) + k * penalty)

    return {
        "aic": float(sum(ic(f, 2.0) for f in parts)),
        "bic": float(sum(ic(f, np.log(f.stats["n"])) for f in parts)),
        "n_params": k,
        "on_bounds": sorted({p for f in parts for p in _on_bounds(law, f.params)}),
        "identifiability": [str(i["message"]) for f in parts for i in f.identifiability],
    }


def _score_entry(law: Law, objective: str, table: RunTable, opts: dict) -> tuple[dict, Any]:
    """One board entry (and the full-data fit) for a law and an objective; failures become a failed entry."""
    entry = {"law": law.name, "law_options": dict(law.options), "objective": objective}
    fit_kw = {**OBJECTIVES[objective], "mapping": opts["mapping"]}
    try:
        full = fit_law(law, table, group_by=opts["group_by"], **fit_kw)
        entry.update(_full_stats(full))
        fold_scores = []
        for units, folds in opts["splits"]:
            for fold in folds:
                start_from = full.select(units) if full.groups else full
                starts = _fold_starts(start_from, law, opts["fold_starts"], opts["seed"])
                fitted = fit_law(law, table.subset(fold.fit), starts=starts, calibrate=False, **fit_kw)
                fold_scores.append({"fold": fold.what, **({"group": units} if units is not None else {}),
                                    **_predict_scores(fitted, law, table, fold.held, opts["mapping"])})
    except FAILURES as exc:
        return {**entry, "status": "failed", "reason": " ".join(str(exc).split())}, None
    means = {k: float(np.nanmean([f[k] for f in fold_scores])) if any(np.isfinite(f[k]) for f in fold_scores)
             else float("nan") for k in ("r2", "rmsle", "mean_abs_rel_error")}
    return {**entry, "status": "ok", **means, "folds": fold_scores}, full


def _splits(table: RunTable, along, mapping, folds, fraction, holdout, group_by) -> list[tuple[Any, list]]:
    """[(group or None, folds)]: the folds of the whole table, or of each group's rows."""
    if group_by is None:
        return [(None, _folds(table, along, mapping, folds, fraction, holdout))]
    if group_by not in table.columns:
        raise ScalefitError(f"{table.source}: --group-by {group_by!r} is not a column; columns are {table.columns}")
    return [(str(value), _folds(table.subset(rows), along, mapping, folds, fraction, holdout))
            for value, rows in table.frame.groupby(group_by, sort=True).groups.items()]


def _rank_key(entry: dict) -> tuple:
    if entry["status"] != "ok":
        return (2, 0.0, 0.0)
    r, e = entry["rmsle"], entry["mean_abs_rel_error"]
    return (0 if np.isfinite(r) else 1, r if np.isfinite(r) else 0.0, e if np.isfinite(e) else np.inf)


def _winner(board: list[dict], order: list[int], tolerance: float) -> int | None:
    """The simplest candidate (fewest parameters, then lowest RMSLE) among those whose mean validation RMSLE is
    within ``tolerance`` (relative) of the best; None when none was scored."""
    if board[order[0]]["status"] != "ok":
        return None
    best = board[order[0]]
    if not np.isfinite(best["rmsle"]):
        return order[0]
    near = [i for i in order if board[i]["status"] == "ok" and board[i]["rmsle"] <= (1 + tolerance) * best["rmsle"]]
    return min(near, key=lambda i: (board[i]["n_params"], board[i]["rmsle"]))


def select(
    data: RunsLike,
    candidates: Sequence[Law | str | tuple] | Law | str | None = None,
    *,
    along: str | None = None,
    folds: int = 2,
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
) -> SelectionResult:
    """Rank candidate laws × objectives by extrapolation backtests and keep the winner's full-data fit.

    candidates: law names, Laws or (name, options) pairs; None = every library law the columns provide.
    along / folds / fraction: fold k holds out the rows with ``along`` above its (1 - k·fraction) quantile.
    holdout: one fold instead, the rows this filter selects. objectives: "huber" (log residuals unless the law
    fits raw values) and/or "mse" (raw residuals). fold_starts / seed: start-grid subsample of each fold fit.
    """
    _check(folds, fraction, objectives)
    if not (np.isfinite(tolerance) and tolerance >= 0):
        raise ScalefitError(f"tolerance={tolerance}: need a share >= 0 (0.1: within 10% of the best RMSLE)")
    mapping = dict(mapping or {})
    table = filter_rows(as_table(data), where, mapping=mapping)
    laws = _as_candidates(candidates, table, mapping, target)
    along = _along(laws, table, mapping, along)
    splits = _splits(table, along, mapping, folds, fraction, holdout, group_by)
    board, fits = [], []
    for law in laws:
        law_map = {**mapping, **({law.target: target} if target else {})}
        opts = {"mapping": law_map, "group_by": group_by, "splits": splits, "fold_starts": fold_starts, "seed": seed}
        for objective in objectives:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                entry, full = _score_entry(law, objective, table, opts)
            board.append(entry)
            fits.append(full)
    order = sorted(range(len(board)), key=lambda i: _rank_key(board[i]))
    winner = _winner(board, order, tolerance)
    if winner is not None:
        board[winner] = {**board[winner], "winner": True}
    return SelectionResult(
        board=[board[i] for i in order], along=along, holdout=holdout, folds=[f.what for f in splits[0][1]],
        group_by=group_by, objectives=list(objectives),
        data={"source": table.source, "n_rows": len(table), "hash": table.digest(), "where": where},
        fit=None if winner is None else fits[winner], tolerance=tolerance,
    )


def _check(folds: int, fraction: float, objectives: Sequence[str]) -> None:
    unknown = [o for o in objectives if o not in OBJECTIVES]
    if unknown or not objectives:
        raise ScalefitError(f"objectives {list(objectives)}: each must be one of {sorted(OBJECTIVES)}")
    check_folds(folds, fraction)


__all__ = ["OBJECTIVES", "candidate_laws", "select"]
