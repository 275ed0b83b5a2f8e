"""Shared pieces of the compute-optimal frontier fits (Approaches 1 and 2 of Hoffmann et al. 2022).

Both approaches end in points (C, N*, D*) and power laws N*(C) = k_N C^a, D*(C) = k_D C^b fitted by
least squares in log-log space; this module holds that fit, its bootstrap summary and the result type
with report / to_dict / save that ``scalefit fit isoflop`` and ``scalefit fit envelope`` return.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scalefit import _schema as S  # the field checkers of every result file (S.expect_str, ...)
from scalefit._frozen import freeze_fields, plain_fields
from scalefit.errors import FitError, FitFileError
from scalefit.results import ResultFile
from scalefit.runs import resolve

SCHEMAS = ("scalefit.isoflop/1", "scalefit.envelope/1")
_POINT = {"C": S.expect_positive, "N_opt": S.expect_positive, "D_opt": S.expect_positive,
          "L_opt": S.expect_finite_number}
_POINT_OPTIONAL = {"curvature": S.expect_number, "N_min": S.expect_positive, "N_max": S.expect_positive,
                   **{k: S.expect_number for k in ("N_opt_lower", "N_opt_upper", "D_opt_lower", "D_opt_upper")}}
_POINTS = {"isoflop": ({"n_runs": S.expect_int, "N_min": S.expect_positive, "N_max": S.expect_positive,
                        "interior": S.expect_bool},
                       {"parabola": lambda v, w: S.expect_number_list(v, w, finite=True, length=3),
                        "N": S.positive_list, "L": lambda v, w: S.expect_number_list(v, w, finite=True)}),
           "envelope": ({"n_covering": S.expect_int}, {})}
_DATA = {"source": S.expect_str, "n_rows": S.expect_int, "where": S.expect_filter, "grouping": S.optional(S.expect_str),
         "provenance": S.mapping_of(S.expect_str), "mapping": S.mapping_of(S.expect_str)}
_TOP = {"method": S.expect_str, "points": S.expect_list, "a": S.expect_finite_number, "k_N": S.expect_finite_number,
        "b": S.expect_finite_number, "k_D": S.expect_finite_number, "data": S.expect_mapping}
_TOP_OPTIONAL = {"level": S.expect_number, "intervals": S.mapping_of(S.pair), "bootstrap": S.optional(S.expect_mapping),
                 "notes": S.list_of(S.expect_str), "seed": S.optional(S.expect_int)}


def load_points(data, mapping, target, where, bootstrap: int, level: float, symbols=("N", "D", "C", "L")):
    """(table, resolved symbols, mapping) for the frontier procedures: ``target`` the loss column, every symbol
    positive; a bad ``bootstrap`` count or ``level`` is refused first."""
    from scalefit.fitting.bootstrap import check_resamples
    from scalefit.fitting.resample import tail_percent
    from scalefit.fitting.rows import filtered_rows

    check_resamples(bootstrap)
    tail_percent(level)
    table, mapping = filtered_rows(data, where, mapping, target)
    return table, resolve(table, list(symbols), mapping=mapping, positive=symbols), mapping


def power_law(log_c: np.ndarray, log_y: np.ndarray) -> tuple[float, float]:
    """Slope and intercept of ``log_y = intercept + slope * log_c`` (NaN with fewer than 2 finite points)."""
    ok = np.isfinite(log_c) & np.isfinite(log_y)
    if ok.sum() < 2 or np.ptp(log_c[ok]) == 0:
        return float("nan"), float("nan")
    slope, intercept = np.polyfit(log_c[ok], log_y[ok], 1)
    return float(slope), float(intercept)


def frontier_laws(log_c, log_n, log_d) -> dict:
    """a, k_N, b, k_D of N*(C) = k_N C^a and D*(C) = k_D C^b through the points (ln C, ln N*, ln D*)."""
    (a, ln_kn), (b, ln_kd) = power_law(log_c, np.asarray(log_n)), power_law(log_c, np.asarray(log_d))
    return {"a": a, "k_N": float(np.exp(ln_kn)), "b": b, "k_D": float(np.exp(ln_kd))}


def bootstrap_fields(log_c, log_n, log_d, level: float) -> tuple[dict, dict]:
    """(samples, percentile intervals) of a, k_N, b, k_D: :func:`frontier_laws` through each resample's points,
    the rows of (B, points) ``log_n`` and ``log_d`` (NaN where a resample has no point)."""
    from scalefit.fitting.resample import percentile_interval

    fits = [frontier_laws(log_c, n, d) for n, d in zip(log_n, log_d)]
    samples = {k: np.array([f[k] for f in fits]) for k in ("a", "k_N", "b", "k_D")}
    return {k: s.tolist() for k, s in samples.items()}, {k: percentile_interval(s, level) for k, s in samples.items()}


@dataclass(frozen=True)
class FrontierResult(ResultFile):
    """Compute-optimal points and the power laws N*(C) = k_N C^a, D*(C) = k_D C^b through them."""

    FILE_KIND = "isoflop/envelope fit"
    FILE_HINT = "create it with `scalefit fit isoflop RUNS.csv --out {path}`"

    method: str  # "isoflop" (Approach 2) or "envelope" (Approach 1)
    points: list  # one dict per compute budget / envelope point: C, N_opt, D_opt, L_opt, ... (+ intervals)
    a: float  # exponent of N*(C)
    k_N: float  # coefficient of N*(C)
    b: float  # exponent of D*(C)
    k_D: float  # coefficient of D*(C)
    data: dict  # source, n_rows, provenance, where, grouping
    level: float = 0.95  # interval level
    intervals: dict = field(default_factory=dict)  # "a", "b", "k_N", "k_D" -> (lower, upper)
    bootstrap: dict | None = None  # "a", "b", "k_N", "k_D" -> list of resampled values
    notes: list = field(default_factory=list)  # caveats (skipped groups, minima outside the sampled range ...)
    seed: int | None = None  # bootstrap seed

    def __post_init__(self) -> None:
        freeze_fields(self)  # results are immutable data

    def predict(self, C, *, warn: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Compute-optimal (N*, D*) at compute ``C`` from the fitted power laws; an ExtrapolationWarning (at the
        caller's line) says how many decades a budget lies beyond the frontier's points (``warn=False``: not)."""
        c = np.asarray(C, dtype=float)
        if warn:
            self.warn_extrapolation(c, "predict")
        return self.k_N * c**self.a, self.k_D * c**self.b

    def warn_extrapolation(self, C, what: str = "") -> bool:
        """ExtrapolationWarning when budgets ``C`` leave the range of the frontier's points (in decades)."""
        from scalefit.fitting.extrapolation import warn_beyond

        cs = [float(p["C"]) for p in self.points if np.isfinite(float(p["C"]))]
        return bool(cs) and warn_beyond({"C": C}, {"C": (min(cs), max(cs))}, what)

    def predict_interval(self, C, *, level: float | None = None):
        """Bootstrap intervals ((N lower, N upper), (D lower, D upper)) of N*(C) and D*(C)."""
        if not self.bootstrap:
            raise FitError("no bootstrap in this fit; rerun with --bootstrap N for intervals")
        c = np.atleast_1d(np.asarray(C, dtype=float))[None, :]
        b = {k: np.asarray(v, dtype=float)[:, None] for k, v in self.bootstrap.items()}
        from scalefit.fitting.resample import percentile_interval as interval

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            n = b["k_N"] * c ** b["a"]
            d = b["k_D"] * c ** b["b"]
        level = self.level if level is None else level
        return interval(n, level, axis=0), interval(d, level, axis=0)

    def report(self) -> str:
        title = {"isoflop": "IsoFLOP profiles (Hoffmann et al. 2022, Approach 2)",
                 "envelope": "lower envelope of training curves (Hoffmann et al. 2022, Approach 1)"}[self.method]
        lines = [title, f"data     {self.data.get('source')} ({self.data.get('n_rows')} rows)"]
        if self.data.get("where"):
            lines.append(f"where    {self.data['where']}")
        lines.append("columns  " + ", ".join(f"{s} ← {p}" for s, p in self.data.get("provenance", {}).items()))
        if self.data.get("grouping"):
            lines.append(f"groups   {self.data['grouping']}")
        lines.append("")
        pct = f"{100 * self.level:g}%"
        n_boot = len(next(iter(self.bootstrap.values()))) if self.bootstrap else 0
        head = f"{'parameter':<10} {'value':>12}" + (f"   {pct} interval (bootstrap n={n_boot})" if n_boot else "")
        lines.append(head)
        for key, text in (("a", "N*(C) ∝ C^a"), ("b", "D*(C) ∝ C^b"), ("k_N", "N* = k_N C^a"),
                          ("k_D", "D* = k_D C^b")):
            v = getattr(self, key)
            row = f"{key:<10} {v:>12.5g}"
            if key in self.intervals:
                lo, hi = self.intervals[key]
                row += f"   [{lo:.5g}, {hi:.5g}]"
            lines.append(f"{row}   {text}")
        lines.append("")
        lines.append(self._points_table())
        for note in self.notes:
            lines.append(f"note: {note}")
        return "\n".join(lines)

    def _points_table(self) -> str:
        if self.method == "isoflop":
            lines = [f"{'C':>10} {'runs':>5} {'N*':>11} {'D*':>11} {'L*':>8} {'N sampled':>21}  N* interval"]
            for p in self.points:
                iv = f"[{p['N_opt_lower']:.4g}, {p['N_opt_upper']:.4g}]" if "N_opt_lower" in p else ""
                flag = "" if p["interior"] else "  (minimum outside the sampled sizes)"
                lines.append(f"{p['C']:>10.4g} {p['n_runs']:>5d} {p['N_opt']:>11.4g} {p['D_opt']:>11.4g} "
                             f"{p['L_opt']:>8.4f} {p['N_min']:>10.3g}-{p['N_max']:<10.3g}  {iv}{flag}")
            return "\n".join(lines)
        lines = [f"{'C':>10} {'N*':>11} {'D*':>11} {'L*':>8} {'runs covering':>14}"]
        for p in self.points:
            lines.append(f"{p['C']:>10.4g} {p['N_opt']:>11.4g} {p['D_opt']:>11.4g} {p['L_opt']:>8.4f} "
                         f"{p['n_covering']:>14d}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"schema": f"scalefit.{self.method}/1", **plain_fields(self)}

    @classmethod
    def from_dict(cls, d) -> FrontierResult:
        """A FrontierResult from :meth:`to_dict`'s output, every field checked (FitFileError naming the field)."""
        f, schema = S.expect_result(d, SCHEMAS, "an isoflop/envelope fit", _TOP, _TOP_OPTIONAL), d["schema"]
        if f["method"] != schema.split(".")[1].split("/")[0]:
            raise FitFileError(f"method: {f['method']!r} does not match the schema {schema!r}")
        required, extra = _POINTS[f["method"]]
        points = S.list_of(S.fields_of({**_POINT, **required}, {**_POINT_OPTIONAL, **extra}))
        f["points"] = points(f["points"], "points")
        for i, point in enumerate(f["points"]):
            if ("N" in point) != ("L" in point) or len(point.get("N", ())) != len(point.get("L", ())):
                raise FitFileError(f"points[{i}]: N and L are the runs' sizes and losses, two lists of one length; "
                                   f"got {len(point.get('N', ()))} and {len(point.get('L', ()))}")
        f["data"] = S.expect_fields(f["data"], "data", {}, _DATA)
        f["intervals"] = {k: tuple(v) for k, v in f.get("intervals", {}).items()}
        if f.get("bootstrap") is not None:
            f["bootstrap"] = _bootstrap_samples(f["bootstrap"])
        return cls(**f)


def _bootstrap_samples(d: dict) -> dict:
    """Resampled a, b, k_N, k_D: four lists of numbers of one length (NaN where a resample had no fit)."""
    keys = ("a", "b", "k_N", "k_D")
    out = S.expect_fields(d, "bootstrap", dict.fromkeys(keys, S.expect_number_list), closed=True)
    if len({len(v) for v in out.values()}) != 1 or not out["a"]:
        raise FitFileError("bootstrap: a, b, k_N and k_D need the same non-zero number of samples, got "
                           + ", ".join(f"{k}: {len(v)}" for k, v in out.items()))
    return out


def frontier_plan(source: FrontierResult | str | Path, compute, *, level: float = 0.95
                  ) -> tuple[FrontierResult, list] | None:
    """Compute-optimal N*, D* rows for each budget from a frontier result (or an isoflop/envelope fit file;
    None for other fit files)."""
    if not isinstance(source, FrontierResult) and S.schema_of(source) not in SCHEMAS:
        return None
    from scalefit.fitting.resample import tail_percent
    from scalefit.planning.inputs import positives

    compute = positives(compute, "a compute budget", "--compute", "1e24", "FLOP count")
    tail_percent(level)
    result = source if isinstance(source, FrontierResult) else FrontierResult.load(source)
    rows = []
    for c in compute:
        n, d = result.predict(c, warn=False)  # one warning for the whole plan, below
        row = {"C": c, "N_opt": float(n), "D_opt": float(d), "tokens_per_param": float(d / n)}
        if result.bootstrap:
            (nlo, nhi), (dlo, dhi) = result.predict_interval([c], level=level)
            row.update(N_opt_lower=float(nlo[0]), N_opt_upper=float(nhi[0]), D_opt_lower=float(dlo[0]),
                       D_opt_upper=float(dhi[0]))
        rows.append(row)
    result.warn_extrapolation(compute, "plan")
    return result, rows
