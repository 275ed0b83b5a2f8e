"""FitResult: the immutable outcome of a fit, with prediction, intervals, report and JSON round trip."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from scalefit import _schema as S  # the field checkers of every result file (S.expect_str, ...)
from scalefit._frozen import freeze, thaw
from scalefit.errors import ArgumentTypeError, FitError, FitFileError, PlanInputError, RunDataError, ScalefitError
from scalefit.fitting.intervals import Interval
from scalefit.fitting.resample import percentile_interval
from scalefit.laws import Law, get_law
from scalefit.results import ResultFile

SCHEMA = "scalefit.fit/1"
INTERVALS = ("prediction", "mean")  # where a new run would land; the uncertainty of the fitted curve


def point_columns(points: object, name: str) -> dict[str, np.ndarray]:
    """``{"N": 7e10, "D": [1e12, 2e12]}`` as equal-length float arrays (a scalar repeats); ArgumentTypeError for
    what is not a mapping of numbers, RunDataError for lists of different lengths, both naming ``name``."""
    if not isinstance(points, Mapping):
        raise ArgumentTypeError(f"{name} must be a dict of symbol -> value(s) or a DataFrame, e.g. "
                                f"{{'N': 7e10, 'D': 1.4e12}}, got {type(points).__name__}")
    out = {}
    for k, v in points.items():
        try:
            out[k] = np.atleast_1d(np.asarray(v, dtype=float))
        except (TypeError, ValueError):
            raise ArgumentTypeError(f"{name}[{k!r}] must be a number or a list of numbers, got "
                                    f"{type(v).__name__} {str(v)[:40]!r}") from None
        if out[k].ndim != 1:
            raise ArgumentTypeError(f"{name}[{k!r}] must be a number or a flat list of numbers, got shape "
                                    f"{out[k].shape}")
    lengths = {len(v) for v in out.values()} - {1}
    if len(lengths) > 1:
        raise RunDataError(f"{name}: lists of different lengths ({', '.join(f'{k}: {len(v)}' for k, v in out.items())})"
                           "; give one value per point for every symbol (or a single value to repeat)")
    n = lengths.pop() if lengths else 1
    return {k: np.repeat(v, n) if len(v) == 1 else v for k, v in out.items()}


@dataclass(frozen=True)
class FitResult(ResultFile):
    """A fitted law. Parameters are natural units; ``bootstrap`` holds one sample list per parameter."""

    FILE_KIND = "fit file"
    FILE_HINT = "create one with `scalefit fit LAW RUNS.csv --out {path}`"

    law: str  # registry name of the law
    law_options: dict  # factory options that rebuild the law (e.g. the formula of an `expr` law)
    params: dict  # parameter name -> fitted value
    stats: dict  # n, n_params, objective, loss, delta, space, rmse_log, aic, bic
    search: dict  # n_starts, n_reached, best_start, converged, message, warnings
    data: dict  # source, hash, n_rows, ranges per symbol, provenance, target, where
    bootstrap: dict | None = None  # parameter name -> list of bootstrap estimates (None if not run)
    seed: int | None = None  # bootstrap seed
    version: str = field(default_factory=lambda: __import__("scalefit").__version__)  # scalefit version
    identifiability: list = field(default_factory=list)  # findings {check, params, message}; [] = identifiable
    calibration: dict | None = None  # prediction-interval calibration (fitting/calibration.py); None: not run
    covariance: dict | None = None  # parameter covariance from the Jacobian at the optimum (fitting/covariance.py)
    spec: Any = None  # the FitSpec it was fitted with (scalefit.fitting.spec); None in files from before specs

    def __post_init__(self) -> None:
        """Every container read-only (``fit.params['E'] = 0`` raises): a result is data, fixed once fitted."""
        for name in ("law_options", "params", "stats", "search", "data", "bootstrap", "identifiability",
                     "calibration", "covariance"):
            object.__setattr__(self, name, freeze(getattr(self, name)))

    # ---- the law -------------------------------------------------------------------------
    @cached_property
    def law_spec(self) -> Law:
        """The Law object this result was fitted with."""
        return get_law(self.law, **self.law_options)

    # ---- inputs and prediction ----------------------------------------------------------
    def _inputs(self, inputs: Mapping[str, Any] | pd.DataFrame) -> dict[str, np.ndarray]:
        from scalefit.runs import RunTable, resolve

        frame = inputs if isinstance(inputs, pd.DataFrame) else pd.DataFrame(point_columns(inputs, "inputs"))
        table = RunTable.from_frame(frame, "<prediction inputs>")
        mapping = {s: c for s, c in self.data.get("mapping", {}).items() if c in frame.columns}
        x = resolve(table, self.law_spec.inputs, mapping=mapping).values
        self.warn_extrapolation(x)
        return x

    def warn_extrapolation(self, x: Mapping[str, np.ndarray]) -> None:
        """Warn (ExtrapolationWarning) when the inputs ``x`` leave the ranges the law was fitted on."""
        from scalefit.fitting.extrapolation import warn_beyond

        warn_beyond(x, self.data.get("ranges", {}))  # how many decades beyond, at the user's line

    def predict(self, inputs: Mapping[str, Any] | pd.DataFrame) -> np.ndarray:
        """Predicted target at ``inputs`` (symbols or columns; e.g. ``{"N": 7e10, "D": 1.4e12}``)."""
        return np.asarray(self.law_spec(self._inputs(inputs), self.params), dtype=float).reshape(-1)

    def samples(self, inputs: Mapping[str, Any] | pd.DataFrame) -> np.ndarray:
        """(n_boot, n_points) predictions, one row per bootstrap fit."""
        if not self.bootstrap:
            raise FitError("no bootstrap in this fit; refit with bootstrap=N (CLI: --bootstrap N) for intervals")
        x = self._inputs(inputs)
        p = {k: np.asarray(v, dtype=float)[:, None] for k, v in self.bootstrap.items()}
        n_boot = len(next(iter(p.values())))
        n_points = len(next(iter(x.values()))) if x else 1
        with np.errstate(all="ignore"):
            return np.broadcast_to(self.law_spec.formula(x, p), (n_boot, n_points))

    def predict_interval(
        self, inputs: Mapping[str, Any] | pd.DataFrame, *, level: float = 0.95, interval: str = "prediction",
    ) -> Interval:
        """Interval (lower, upper) at ``inputs``, an :class:`~scalefit.fitting.intervals.Interval` that says its
        kind and level. ``interval="prediction"`` (the default, as in ``scalefit predict``): where a new run
        there would land (noise and extrapolation error, calibrated on extrapolation folds;
        :mod:`scalefit.fitting.calibration`); ``"mean"``: the interval of the fitted curve (the percentile
        bootstrap band, or without a bootstrap the delta-method interval from the parameter covariance).
        """
        if interval not in INTERVALS:
            raise FitError(f"interval must be one of {list(INTERVALS)}, got {interval!r}")
        if interval == "prediction":
            from scalefit.fitting.calibration import prediction_band

            method = "calibrated on extrapolation folds" if self.calibration else "residual noise (no calibration)"
            return Interval(*prediction_band(self, self._inputs(inputs), level), kind="prediction", level=level,
                            method=method)
        if not self.bootstrap and self.covariance and self.covariance.get("matrix") is not None:
            from scalefit.fitting.covariance import delta_interval

            x = self._inputs(inputs)
            lo, hi, _ = delta_interval(self.covariance, self.params, lambda p: self.law_spec.formula(x, p), level,
                                       log=self.stats.get("space") == "log")
            return Interval(lo, hi, kind="mean", level=level, method=f"delta method ({self.covariance['method']})")
        s = self.samples(inputs)
        return Interval(*percentile_interval(s, level, axis=0), kind="mean", level=level,
                        method=f"bootstrap percentile (n={len(s)})")

    # ---- parameters and derived quantities ----------------------------------------------
    def param_samples(self) -> dict[str, np.ndarray] | None:
        return None if not self.bootstrap else {k: np.asarray(v, dtype=float) for k, v in self.bootstrap.items()}

    def intervals(self, *, level: float = 0.95) -> dict[str, tuple[float, float]]:
        """Parameter intervals of every parameter and every scalar derived quantity: percentile bootstrap, or
        without a bootstrap Wald intervals from the parameter covariance (:meth:`interval_method` says which)."""
        samples = self.param_samples()
        if samples is None:
            return self._wald_intervals(level)
        out = {k: percentile_interval(s, level) for k, s in samples.items()}
        for name, d in self.law_spec.derived.items():
            if not d.needs:
                with np.errstate(all="ignore"):
                    vals = np.asarray(d.fn(samples), dtype=float)
                out[name] = percentile_interval(vals, level)
        return out

    def _wald_intervals(self, level: float) -> dict[str, tuple[float, float]]:
        from scalefit.fitting.covariance import parameter_intervals

        out = parameter_intervals(self.covariance, self.params, level)
        if out:
            for name, d in self.law_spec.derived.items():
                if not d.needs:
                    iv = self.derived_interval(name, level=level)
                    out[name] = (float(np.reshape(iv[0], -1)[0]), float(np.reshape(iv[1], -1)[0]))
        return out

    def interval_method(self) -> str | None:
        """How the parameter intervals are computed: the bootstrap, the covariance, or None (neither)."""
        if self.bootstrap:
            return f"bootstrap percentile (n={len(next(iter(self.bootstrap.values())))})"
        if self.covariance and self.covariance.get("matrix") is not None:
            return f"Wald, {self.covariance['method']}"
        return None

    def standard_errors(self) -> dict[str, float]:
        """Standard error of each parameter (natural units): the bootstrap's standard deviation, else the
        covariance's (:mod:`scalefit.fitting.covariance`); {} with neither."""
        from scalefit.fitting.covariance import standard_errors

        if self.bootstrap:
            return {k: float(np.nanstd(np.asarray(v, float), ddof=1)) for k, v in self.bootstrap.items()}
        return standard_errors(self.covariance, self.params)

    def derived(self, name: str, *, warn: bool = True, **extra: Any) -> np.ndarray:
        """A derived quantity of the law (e.g. ``N_opt`` with ``C=5.88e23``) at the fitted parameters; an
        ExtrapolationWarning when its inputs, or the size it gives (``N`` of ``N_opt``), leave the fitted ranges
        (``warn=False``: for callers that say it themselves, as ``plan`` does)."""
        d = self._derived_spec(name, extra)
        p = {k: np.asarray(v, dtype=float) for k, v in self.params.items()}
        value = np.asarray(d.fn(p, **extra), dtype=float)
        if warn:
            from scalefit.fitting.extrapolation import warn_beyond

            ranges = self.data.get("ranges", {})
            x = {k: v for k, v in extra.items() if k in ranges}
            if name.endswith("_opt") and name[:-4] in ranges:  # N_opt at C=1e24: how far beyond the fitted N
                x[name[:-4]] = value
            warn_beyond(x, ranges, what=name)
        return value

    def derived_interval(self, name: str, *, level: float = 0.95, **extra: Any) -> Interval:
        """Parameter interval of a derived quantity: percentile bootstrap, or without a bootstrap the delta method
        from the parameter covariance."""
        d = self._derived_spec(name, extra)
        samples = self.param_samples()
        if samples is None and self.covariance and self.covariance.get("matrix") is not None:
            from scalefit.fitting.covariance import delta_interval

            with np.errstate(all="ignore"):
                value = np.asarray(d.fn({k: np.asarray(v, float) for k, v in self.params.items()}, **extra), float)
            lo, hi, _ = delta_interval(self.covariance, self.params, lambda p: d.fn(p, **extra), level,
                                       log=bool(np.all(value > 0)))
            return Interval(lo.reshape(np.shape(value)), hi.reshape(np.shape(value)), kind="parameter", level=level,
                            method=f"delta method ({self.covariance['method']})")
        if samples is None:
            raise FitError("no bootstrap in this fit; refit with bootstrap=N (CLI: --bootstrap N) for intervals")
        p = {k: v.reshape((-1,) + (1,) * max(np.ndim(e) for e in [*extra.values(), 0])) for k, v in samples.items()}
        with np.errstate(all="ignore"):
            vals = np.asarray(d.fn(p, **extra), dtype=float)
        return Interval(*percentile_interval(vals, level, axis=0), kind="parameter", level=level,
                        method=f"bootstrap percentile (n={len(vals)})")

    def _derived_spec(self, name: str, extra: Mapping[str, Any]):
        law = self.law_spec
        if name not in law.derived:
            raise FitError(f"law {law.name!r} has no derived quantity {name!r}; it has {sorted(law.derived)}")
        d = law.derived[name]
        missing = [k for k in d.needs if k not in extra]
        if missing:
            raise FitError(f"{name} needs {missing} (e.g. C=1e24 for a compute budget)")
        for k in d.needs:  # any shape (a mesh of points broadcasts), but numbers, finite and positive
            try:
                v = np.atleast_1d(np.asarray(extra[k], dtype=float))
            except (TypeError, ValueError):
                raise ArgumentTypeError(f"{name}: {k} must be a number or an array of numbers, got "
                                        f"{type(extra[k]).__name__}") from None
            if not (np.isfinite(v) & (v > 0)).all():
                bad = v[~(np.isfinite(v) & (v > 0))][0]
                raise PlanInputError(f"{name}: {k}={bad:g} must be > 0 (a finite, positive number), e.g. {k}=1e24")
        return d

    # ---- report and serialisation -------------------------------------------------------
    def report(self, *, level: float = 0.95) -> str:
        """A human-readable summary."""
        from scalefit.fitting.report import format_report

        return "\n".join([format_report(self, level=level), *self.notes()])

    def notes(self, prefix: str = "") -> list[str]:
        """The report's closing lines: identifiability warnings and the calibration, each after ``prefix``."""
        lines = [f"warning: {prefix}{f['message']}" for f in self.identifiability]
        if self.calibration:
            from scalefit.fitting.calibration import describe

            lines.append(f"{prefix}{describe(self.calibration)}")
        return lines

    def __repr__(self) -> str:
        """Short: ``FitResult('chinchilla', E=1.82, A=482, ..., n=245)``; ``str(fit)`` is the report."""
        shown = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return f"FitResult({self.law!r}, {shown}, n={self.stats.get('n')})"

    def to_dict(self) -> dict:
        """A plain JSON-ready dict (mutable: a copy, not a view of this result)."""
        d = {f.name: thaw(getattr(self, f.name)) for f in fields(self) if f.name != "spec"}
        return {"schema": SCHEMA, **d, **({"spec": self.spec.to_dict()} if self.spec is not None else {})}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FitResult:
        """A FitResult from :meth:`to_dict`'s output, every field checked (FitFileError naming the field); a
        grouped or multi-target fit file gives a :class:`~scalefit.fitting.fit_set.FitSet`."""
        return fit_from_dict(d)


# ---- validation of fit files ----------------------------------------------------------------------------------
_FINDING = {"check": S.expect_str, "params": S.list_of(S.expect_str), "message": S.expect_str}
_FOLD = {"fold": S.expect_str, "points": S.expect_int, "max_distance": S.expect_finite_number,
         "scores": S.list_of(S.expect_finite_number)}
# a log-space error beyond 10 (a factor e^10 ≈ 22,000) is no calibration scalefit writes; raw-space ones are finite
MAX_LOG_SCALE = 10.0
_CALIBRATION = {"method": S.expect_str, "space": S.choice("log", "raw"), "axes": S.list_of(S.expect_str),
                "folds": S.list_of(S.fields_of(_FOLD, {"axis": S.expect_str})), "points": S.expect_int,
                "noise": S.in_range(0.0), "growth": S.in_range(0.0)}
_TOP = {"law": S.expect_str, "law_options": S.expect_mapping, "params": S.expect_mapping, "stats": S.expect_mapping,
        "search": S.expect_mapping, "data": S.expect_mapping}
_TOP_OPTIONAL = {"bootstrap": S.optional(S.expect_mapping), "seed": S.optional(S.expect_int), "version": S.expect_str,
                 "groups": S.optional(S.expect_mapping), "group_by": S.optional(S.expect_str),  # null: before FitSet
                 "targets": S.optional(S.list_of(S.expect_str)), "identifiability": S.list_of(S.fields_of(_FINDING)),
                 "calibration": S.optional(S.fields_of(_CALIBRATION)), "covariance": S.optional(S.expect_mapping),
                 "spec": S.optional(lambda value, where: stored_spec(value, where))}
_STATS = {"n": S.expect_int, "n_params": S.expect_int, "objective": S.expect_number, "loss": S.choice("huber", "mse"),
          "delta": S.in_range(0.0), "space": S.choice("log", "raw"), "rmse_log": S.expect_number,
          "aic": S.expect_number, "bic": S.expect_number, "rmse": S.expect_number}
_SEARCH = {"n_starts": S.expect_int, "n_reached": S.expect_int, "converged": S.expect_bool,
           "best_start": S.mapping_of(S.expect_number), "message": S.expect_str, "warnings": S.list_of(S.expect_str),
           "lambda_profile": S.list_of(S.pair)}
_DATA = {"source": S.expect_str, "n_rows": S.expect_int, "hash": S.optional(S.expect_str), "where": S.expect_filter,
         "target": S.expect_str, "provenance": S.mapping_of(S.expect_str), "mapping": S.mapping_of(S.expect_str),
         "ranges": S.mapping_of(S.ordered_pair), "bootstrap_unit": S.expect_str, "weight": S.expect_str,
         "anchors": S.list_of(S.mapping_of(S.expect_finite_number)), "runs": S.expect_mapping}


def fit_from_dict(d: Any, where: str = "") -> Any:
    """A FitResult from a fit file's object ``d`` (a FitSet from a grouped or multi-target one: its schema
    ``scalefit.fitset/1``, or ``groups`` in a file written before FitSet); errors name the field path, prefixed
    by ``where``."""
    if isinstance(d, Mapping) and (d.get("schema") == "scalefit.fitset/1" or d.get("groups")):
        from scalefit.fitting.fit_set import FitSet

        return FitSet.from_dict(d, where)
    return FitResult(**_checked_fields(d, where))


def _checked_fields(d: Any, where: str) -> dict:
    """The keyword arguments of FitResult from a fit file's object ``d`` (at field path ``where``), all checked."""
    at = f"{where}." if where else ""
    fields = S.expect_result(d, (SCHEMA,), "a scalefit fit", _TOP, _TOP_OPTIONAL, where=where)
    for key in ("groups", "group_by", "targets"):  # null in the single fits' files written before FitSet
        fields.pop(key, None)
    law = _law(fields["law"], fields["law_options"], at)
    fields["data"] = S.expect_fields(fields["data"], f"{at}data", {}, _DATA)
    fields["params"] = _params(fields["params"], law, f"{at}params")
    fields["stats"] = S.expect_fields(fields["stats"], f"{at}stats", {}, _STATS)
    _check_calibration(fields.get("calibration"), f"{at}calibration")
    if fields.get("covariance") is not None:
        fields["covariance"] = _covariance(fields["covariance"], law, f"{at}covariance")
    fields["search"] = S.expect_fields(fields["search"], f"{at}search", {}, _SEARCH)
    if fields.get("bootstrap") is not None:
        fields["bootstrap"] = _bootstrap(fields["bootstrap"], law, f"{at}bootstrap")
    return fields


def stored_spec(value: Any, where: str):
    """The stored FitSpec, rebuilt (every field checked)."""
    from scalefit.fitting.spec import FitSpec

    return FitSpec.from_dict(value, where)


def _law(name: str, options: dict, at: str) -> Law:
    """The law the file names, rebuilt from its options (a stored formula passes the safe formula checker)."""
    try:
        return get_law(name, **options)
    except (ScalefitError, TypeError, ValueError) as exc:
        raise FitFileError(f"{at}law: cannot rebuild law {name!r} from the file: {exc}") from None


def _same_names(d: dict, law: Law, where: str, what: str) -> None:
    names = law.param_names
    missing = [k for k in names if k not in d]
    if missing:
        raise FitFileError(f"{where}: missing {what} {', '.join(map(repr, missing))}; law {law.name!r} needs "
                           f"{', '.join(names)}")
    unknown = [k for k in d if k not in names]
    if unknown:
        raise FitFileError(f"{where}: unknown parameter {', '.join(map(repr, unknown))}; law {law.name!r} has "
                           f"{', '.join(names)}")


def _params(d: dict, law: Law, where: str) -> dict:
    """Every parameter of the law, each a finite number inside the law's bounds (a NaN parameter would predict NaN
    silently, alpha=-3 a loss of 1e34)."""
    _same_names(d, law, where, "parameter")
    out = {k: S.expect_finite_number(d[k], f"{where}.{k}") for k in law.param_names}
    for p in law.params:
        if not p.lower <= out[p.name] <= p.upper:
            raise FitFileError(f"{where}.{p.name}: {out[p.name]:g} is outside the bounds of law {law.name!r} for "
                               f"{p.name}, [{p.lower:g}, {p.upper:g}]")
    return out


def _check_calibration(cal: Any, where: str) -> None:
    """A log-space calibration's noise and growth are errors in log units: at most :data:`MAX_LOG_SCALE`."""
    if cal and cal["space"] == "log":
        for key in ("noise", "growth"):
            if cal[key] > MAX_LOG_SCALE:
                raise FitFileError(f"{where}.{key}: {cal[key]:g} is not a calibration scalefit writes (a log-space "
                                   f"error above {MAX_LOG_SCALE:g}, i.e. a factor of more than e^{MAX_LOG_SCALE:g})")


def _covariance(d: Any, law: Law, where: str) -> dict:
    """The parameter covariance (fitting/covariance.py): the law's parameters in order, a log flag each, a
    method, a row count, and a finite symmetric P x P matrix with a non-negative diagonal, or no matrix."""
    from scalefit.fitting.covariance import METHODS

    names, p = list(law.param_names), len(law.param_names)

    def params(v, at):
        if v != names:
            raise FitFileError(f"{at}: expected the law's parameters {names}")
        return v

    def log(v, at):
        if not (isinstance(v, list) and len(v) == p and all(isinstance(x, bool) for x in v)):
            raise FitFileError(f"{at}: expected one true/false per parameter")
        return v

    def method(v, at):
        if v not in METHODS.values():
            raise FitFileError(f"{at}: not a covariance method scalefit writes")
        return v

    def matrix(v, at):
        if v is None:
            return v
        m = np.asarray([S.expect_number_list(r, f"{at}[{i}]", finite=True, length=p)
                        for i, r in enumerate(S.expect_list(v, at))], dtype=float)
        if m.shape != (p, p) or not np.allclose(m, m.T, rtol=1e-9, atol=0) or np.any(np.diag(m) < 0):
            raise FitFileError(f"{at}: expected a symmetric {p} x {p} matrix with a non-negative diagonal")
        return v

    return S.expect_fields(d, where, {"params": params, "log": log, "method": method, "n": S.expect_int,
                                      "matrix": matrix})


def _bootstrap(d: dict, law: Law, where: str) -> dict:
    """One list of numbers per parameter, all of the same non-zero length."""
    _same_names(d, law, where, "bootstrap samples of")
    out = {k: S.expect_number_list(d[k], f"{where}.{k}") for k in law.param_names}
    lengths = {len(v) for v in out.values()}
    if len(lengths) != 1 or 0 in lengths:
        sizes = ", ".join(f"{k}: {len(v)}" for k, v in out.items())
        raise FitFileError(f"{where}: every parameter needs the same non-zero number of bootstrap samples, got {sizes}")
    return out
