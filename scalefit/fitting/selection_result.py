"""SelectionResult: the leaderboard of ``scalefit.fitting.select.select`` and the winner's full-data fit."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from scalefit import _schema as S  # the field checkers of every result file (S.expect_str, ...)
from scalefit._frozen import freeze_fields, thaw
from scalefit.errors import FitError
from scalefit.results import ResultFile

SCHEMA = "scalefit.select/1"
SET_SCHEMA = "scalefit.select-set/1"
SCORES = ("r2", "rmsle", "rmse", "mean_abs_rel_error")
METRIC_NAMES = {"rmsle": "RMSLE", "rmse": "RMSE"}


@dataclass(frozen=True)
class SelectionResult(ResultFile):
    """Candidates ranked by their mean validation ``metric`` (RMSLE for a positive target, RMSE otherwise) on the
    extrapolation folds (failures last); the winner (its entry has ``winner: True``) is the one with the fewest
    parameters within ``tolerance`` of the best (non-degenerate first); ``fit`` is its fit on all rows (None
    when every candidate failed)."""

    FILE_KIND = "selection file"
    FILE_HINT = "create one with `scalefit select RUNS.csv --json > {path}`"

    board: list  # entries {law, law_options, objective, status, reason | r2, rmsle, mean_abs_rel_error, folds,
    #               rmse, aic, bic, n_params, on_bounds, vanished, cancelling, identifiability}, best first
    along: str  # the axis the folds extrapolate along: a symbol, a column or "mixture"
    holdout: str | None  # the one holdout filter, when given instead of folds
    folds: list  # what each fold holds out, e.g. "N > 3.2e9 (top 1 of 9 values, 54 of 193 rows)"
    group_by: str | None  # folds and fits within each value of this column
    objectives: list  # "huber" (robust, log residuals) and/or "mse" (least squares, raw)
    data: dict  # source, n_rows, hash, where
    fit: Any = None  # FitResult of the winner on all rows
    tolerance: float = 0.0  # the winner: fewest parameters within this share of the best mean validation score
    metric: str = "rmsle"  # the score that ranked the board: rmsle (positive target) or rmse
    notes: list = ()  # how the axis or the metric was chosen, when not as asked

    def __post_init__(self) -> None:
        fit = self.fit
        object.__setattr__(self, "fit", None)
        freeze_fields(self)
        object.__setattr__(self, "fit", fit)

    @property
    def winner(self) -> dict | None:
        return next((e for e in self.board if e.get("winner")), None)

    def best_fit(self):
        if self.fit is None:
            raise FitError("no candidate could be fitted and scored; see the board's reasons")
        return self.fit

    def predict(self, inputs: Any, **kwargs: Any):
        """The winner's prediction (see :meth:`FitResult.predict`)."""
        return self.best_fit().predict(inputs, **kwargs)

    def plot(self, runs: Any = None, *, ax: Any = None, **options: Any) -> Any:
        """The winner's figure."""
        return self.best_fit().plot(runs, ax=ax, **options)

    def report(self) -> str:
        return format_board(self)

    def to_dict(self) -> dict:
        d = {k: nan_to_none(thaw(getattr(self, k))) for k in
             ("board", "along", "holdout", "folds", "group_by", "objectives", "data", "tolerance", "metric", "notes")}
        return {"schema": SCHEMA, **d, "fit": None if self.fit is None else json.loads(self.fit.to_json())}

    @classmethod
    def from_dict(cls, d: Any) -> SelectionResult:
        from scalefit.fitting.result import fit_from_dict

        f = S.expect_result(d, (SCHEMA,), "a scalefit selection",
                            {"board": S.list_of(S.expect_mapping), "along": S.expect_str,
                             "folds": S.list_of(S.expect_str), "objectives": S.list_of(S.expect_str),
                             "data": S.fields_of({}, {"where": S.expect_filter})},
                            {"holdout": S.expect_filter, "group_by": S.optional(S.expect_str), "fit": S.optional(
                              S.expect_mapping), "tolerance": S.expect_number, "metric": S.expect_str,
                             "notes": S.list_of(S.expect_str)})
        for i, e in enumerate(f["board"]):
            S.expect_fields(e, f"board.{i}", {"law": S.expect_str, "objective": S.expect_str, "status": S.expect_str})
            for k in SCORES:
                e[k] = float("nan") if e.get(k) is None else e[k]
        if f.get("fit") is not None:
            f["fit"] = fit_from_dict(f["fit"], "fit")
        return cls(**f)


def nan_to_none(obj: Any) -> Any:
    """``obj`` with every non-finite float (in nested dicts and lists) as None: strict JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [nan_to_none(v) for v in obj]
    return obj


def _num(v: Any, spec: str) -> str:
    return "n/a" if v is None or not math.isfinite(v) else format(v, spec)


def entry_name(e: dict) -> str:
    """A board entry's law with its options, e.g. ``power(x=C)``; an ``expr`` law by its formula."""
    opts = dict(e.get("law_options") or {})
    if e["law"] == "expr":
        return str(opts.get("formula", "expr"))
    shown = ",".join(f"{k}={v}" for k, v in opts.items())
    return e["law"] + (f"({shown})" if shown else "")


def format_board(sel: SelectionResult) -> str:
    """The leaderboard as a text table, failures last with their reason, then the winner."""
    from scalefit.fitting.degeneracy import findings

    split = f"holdout {sel.holdout}" if sel.holdout else f"{len(sel.folds)} fold(s) along {sel.along}: " + \
        "; ".join(sel.folds)
    group = f", within each {sel.group_by}" if sel.group_by else ""
    target = f" [target {sel.data['target']}]" if sel.data.get("target") else ""
    metric = METRIC_NAMES.get(sel.metric, sel.metric)
    lines = [f"select on {sel.data['source']}{target} ({sel.data['n_rows']} rows): validation on {split}{group}",
             *(f"note: {n}" for n in sel.notes),
             f"ranked by mean validation {metric}",
             f"{'#':>2} {'law':<22} {'objective':<9} {'R²':>8} {metric:>9} {'|rel.err|':>9} {'AIC':>10} "
             f"{'BIC':>10}  notes"]
    for i, e in enumerate(sel.board, 1):
        name = entry_name(e)
        if e["status"] != "ok":
            lines.append(f"{i:>2} {name:<22} {e['objective']:<9} failed: {e.get('reason', '')}")
            continue
        notes = findings(e)
        if e.get("identifiability"):
            notes.append(f"{len(e['identifiability'])} identifiability warning(s)")
        rel = None if e["mean_abs_rel_error"] is None else 100 * e["mean_abs_rel_error"]
        mark = "*" if e.get("winner") else " "
        lines.append(f"{i:>2}{mark}{name:<22} {e['objective']:<9} {_num(e['r2'], '.4f'):>8} "
                     f"{_num(e.get(sel.metric), '.5f' if sel.metric == 'rmsle' else '.4g'):>9} "
                     f"{_num(rel, '.3f'):>8}% {_num(e.get('aic'), '.1f'):>10} {_num(e.get('bic'), '.1f'):>10}  "
                     f"{'; '.join(notes)}")
    w = sel.winner
    rule = f" (fewest parameters within {100 * sel.tolerance:g}% of the best {metric})" if sel.tolerance else ""
    space = "log" if sel.metric == "rmsle" else "raw"
    warn = "; DEGENERATE: " + "; ".join(findings(w)) if w and findings(w) else ""
    lines.append(f"winner (*): {entry_name(w)} ({w['objective']}){rule}, refitted on all rows; AIC/BIC from "
                 f"{space} residuals{warn}" if w else "no candidate could be fitted and scored")
    return "\n".join(lines)


class SelectionSet(dict):
    """One :class:`SelectionResult` per target column (``select --target a,b``): target -> selection."""

    def report(self) -> str:
        return "\n\n".join(sel.report() for sel in self.values())

    def to_dict(self) -> dict:
        return {"schema": SET_SCHEMA, "targets": {t: sel.to_dict() for t, sel in self.items()}}

    @classmethod
    def from_dict(cls, d: Any) -> SelectionSet:
        f = S.expect_result(d, (SET_SCHEMA,), "a scalefit selection set", {"targets": S.expect_mapping})
        return cls({str(t): SelectionResult.from_dict(v) for t, v in f["targets"].items()})


__all__ = ["SCHEMA", "SET_SCHEMA", "SelectionResult", "SelectionSet", "entry_name", "format_board", "nan_to_none"]
