"""FitResult: the immutable outcome of a fit, with prediction, intervals, report and JSON round trip."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from scalefit._frozen import freeze, thaw
from scalefit._schema import (
    choice,
    expect_bool,
    expect_fields,
    expect_filter,
    expect_finite_number,
    expect_int,
    expect_list,
    expect_mapping,
    expect_number,
    expect_number_list,
    expect_schema,
    expect_str,
    fields_of,
    in_range,
    list_of,
    mapping_of,
    optional,
    ordered_pair,
    pair,
    parse_json,
)
from scalefit.errors import (
    ArgumentTypeError,
    FitError,
    FitFileError,
    PlanInputError,
    RunDataError,
    ScalefitError,
)
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
    groups: dict | None = None  # group value -> FitResult, when fitted with group_by
    group_by: str | None = None  # the grouping column ("target" for a multi-target fit)
    targets: tuple | None = None  # a multi-target fit: the target columns, each fitted in ``groups[column]``
    version: str = field(default_factory=lambda: __import__("scalefit").__version__)  # scalefit version
    identifiability: list = field(default_factory=list)  # findings {check, params, message}; [] = identifiable
    calibration: dict | None = None  # prediction-interval calibration (fitting/calibration.py); None: not run
    covariance: dict | None = None  # parameter covariance from the Jacobian at the optimum (fitting/covariance.py)
    spec: Any = None  # the FitSpec it was fitted with (scalefit.fitting.spec); None in files from before specs

    def __post_init__(self) -> None:
        """Every container read-only (``fit.params['E'] = 0`` raises): a result is data, fixed once fitted."""
        for name in ("law_options", "params", "stats", "search", "data", "bootstrap", "groups", "identifiability",
                     "targets", "calibration", "covariance"):
            object.__setattr__(self, name, freeze(getattr(self, name)))

    # ---- the law -------------------------------------------------------------------------
    @cached_property
    def law_spec(self) -> Law:
        """The Law object this result was fitted with."""
        return get_law(self.law, **self.law_options)

    def group(self, name: object) -> FitResult:
        """The result for one group of a grouped fit."""
        if not self.groups:
            raise FitError("this fit has no groups (it was not fitted with group_by)")
        key = str(name)
        if key not in self.groups:
            what = f"target {key!r} in this fit; targets are {list(self.targets)}" if self.targets else (
                f"group {key!r} in this fit; groups are {sorted(self.groups)}")
            raise FitError(f"no {what}")
        return self.groups[key]

    def select(self, group: object | None = None) -> FitResult:
        """The one fit to use: ``group`` of a grouped fit (required there), else this fit itself."""
        if self.groups:
            if group is None:
                raise FitError(f"this fit has one law per target; say which target (--group, or group= in the "
                               f"library): one of {list(self.targets)}" if self.targets else
                               f"this fit is grouped by {self.group_by!r}; say which group: one of "
                               f"{sorted(self.groups)}")
            return self.group(group)
        return self

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

    def predict(self, inputs: Mapping[str, Any] | pd.DataFrame, *, group: object | None = None) -> np.ndarray:
        """Predicted target at ``inputs`` (symbols or columns; e.g. ``{"N": 7e10, "D": 1.4e12}``)."""
        res = self.select(group)
        x = res._inputs(inputs)
        return np.asarray(res.law_spec(x, res.params), dtype=float).reshape(-1)

    def samples(self, inputs: Mapping[str, Any] | pd.DataFrame, *, group: object | None = None) -> np.ndarray:
        """(n_boot, n_points) predictions, one row per bootstrap fit."""
        res = self.select(group)
        if not res.bootstrap:
            raise FitError("no bootstrap in this fit; refit with bootstrap=N (CLI: --bootstrap N) for intervals")
        x = res._inputs(inputs)
        p = {k: np.asarray(v, dtype=float)[:, None] for k, v in res.bootstrap.items()}
        n_boot = len(next(iter(p.values())))
        n_points = len(next(iter(x.values()))) if x else 1
        with np.errstate(all="ignore"):
            return np.broadcast_to(res.law_spec.formula(x, p), (n_boot, n_points))

    def predict_interval(
        self, inputs: Mapping[str, Any] | pd.DataFrame, *, level: float = 0.95, group: object | None = None,
        interval: str = "prediction",
    ) -> Interval:
        """Interval (lower, upper) at ``inputs``, an :class:`~scalefit.fitting.intervals.Interval` that says its
        kind and level. ``interval="prediction"`` (the default, as in ``scalefit predict``): where a new run
        there would land (noise and extrapolation error, calibrated on extrapolation folds;
        :mod:`scalefit.fitting.calibration`); ``"mean"``: the interval of the fitted curve (the percentile
        bootstrap band, or without a bootstrap the delta-method interval from the parameter covariance).
        """
        if interval not in INTERVALS:
            raise FitError(f"interval must be one of {list(INTERVALS)}, got {interval!r}")
        res = self.select(group)
        if interval == "prediction":
            from scalefit.fitting.calibration import prediction_band

            method = "calibrated on extrapolation folds" if res.calibration else "residual noise (no calibration)"
            return Interval(*prediction_band(res, res._inputs(inputs), level), kind="prediction", level=level,
                            method=method)
        if not res.bootstrap and res.covariance and res.covariance.get("matrix") is not None:
            from scalefit.fitting.covariance import delta_interval

            x = res._inputs(inputs)
            lo, hi, _ = delta_interval(res.covariance, res.params, lambda p: res.law_spec.formula(x, p), level,
                                       log=res.stats.get("space") == "log")
            return Interval(lo, hi, kind="mean", level=level, method=f"delta method ({res.covariance['method']})")
        s = self.samples(inputs, group=group)
        return Interval(*percentile_interval(s, level, axis=0), kind="mean", level=level,
                        method=f"bootstrap percentile (n={len(s)})")

    # ---- parameters and derived quantities ----------------------------------------------
    def param_samples(self, *, group: object | None = None) -> dict[str, np.ndarray] | None:
        res = self.select(group)
        return None if not res.bootstrap else {k: np.asarray(v, dtype=float) for k, v in res.bootstrap.items()}

    def intervals(self, *, level: float = 0.95, group: object | None = None) -> dict[str, tuple[float, float]]:
        """Parameter intervals of every parameter and every scalar derived quantity: percentile bootstrap, or
        without a bootstrap Wald intervals from the parameter covariance (:meth:`interval_method` says which)."""
        res = self.select(group)
        samples = res.param_samples()
        if samples is None:
            return res._wald_intervals(level)
        out = {k: percentile_interval(s, level) for k, s in samples.items()}
        for name, d in res.law_spec.derived.items():
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

    def interval_method(self, *, group: object | None = None) -> str | None:
        """How the parameter intervals are computed: the bootstrap, the covariance, or None (neither)."""
        res = self.select(group)
        if res.bootstrap:
            return f"bootstrap percentile (n={len(next(iter(res.bootstrap.values())))})"
        if res.covariance and res.covariance.get("matrix") is not None:
            return f"Wald, {res.covariance['method']}"
        return None

    def standard_errors(self, *, group: object | None = None) -> dict[str, float]:
        """Standard error of each parameter (natural units): the bootstrap's standard deviation, else the
        covariance's (:mod:`scalefit.fitting.covariance`); {} with neither."""
        from scalefit.fitting.covariance import standard_errors

        res = self.select(group)
        if res.bootstrap:
            return {k: float(np.nanstd(np.asarray(v, float), ddof=1)) for k, v in res.bootstrap.items()}
        return standard_errors(res.covariance, res.params)

    def derived(self, name: str, *, group: object | None = None, **extra: Any) -> np.ndarray:
        """A derived quantity of the law (e.g. ``N_opt`` with ``C=5.88e23``) at the fitted parameters."""
        res = self.select(group)
        d = res._derived_spec(name, extra)
        p = {k: np.asarray(v, dtype=float) for k, v in res.params.items()}
        return np.asarray(d.fn(p, **extra), dtype=float)

    def derived_interval(
        self, name: str, *, level: float = 0.95, group: object | None = None, **extra: Any
    ) -> Interval:
        """Parameter interval of a derived quantity: percentile bootstrap, or without a bootstrap the delta method
        from the parameter covariance."""
        res = self.select(group)
        d = res._derived_spec(name, extra)
        samples = res.param_samples()
        if samples is None and res.covariance and res.covariance.get("matrix") is not None:
            from scalefit.fitting.covariance import delta_interval

            with np.errstate(all="ignore"):
                value = np.asarray(d.fn({k: np.asarray(v, float) for k, v in res.params.items()}, **extra), float)
            lo, hi, _ = delta_interval(res.covariance, res.params, lambda p: d.fn(p, **extra), level,
                                       log=bool(np.all(value > 0)))
            return Interval(lo.reshape(np.shape(value)), hi.reshape(np.shape(value)), kind="parameter", level=level,
                            method=f"delta method ({res.covariance['method']})")
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

        lines = [format_report(self, level=level)]
        parts = {f"{self.group_by} = {k}: ": g for k, g in self.groups.items()} if self.groups else {"": self}
        for prefix, res in parts.items():
            lines += [f"warning: {prefix}{f['message']}" for f in res.identifiability]
            if res.calibration:
                from scalefit.fitting.calibration import describe

                lines.append(f"{prefix}{describe(res.calibration)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        """The report (:meth:`report`)."""
        return self.report()

    def __repr__(self) -> str:
        """Short: ``FitResult('chinchilla', E=1.82, A=482, ..., n=245)``; ``str(fit)`` is the report."""
        if self.groups:
            what = (f"targets={list(self.targets)}" if self.targets else
                    f"group_by={self.group_by!r}, groups={sorted(self.groups)}")
            return f"FitResult({self.law!r}, {what})"
        shown = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return f"FitResult({self.law!r}, {shown}, n={self.stats.get('n')})"

    def _repr_html_(self) -> str:
        """The report in a notebook."""
        import html

        return f"<pre>{html.escape(self.report())}</pre>"

    def to_dict(self) -> dict:
        """A plain JSON-ready dict (mutable: a copy, not a view of this result)."""
        d = {f.name: thaw(getattr(self, f.name)) for f in fields(self) if f.name not in ("groups", "spec")}
        d["groups"] = None if self.groups is None else {k: g.to_dict() for k, g in self.groups.items()}
        return {"schema": SCHEMA, **d, **({"spec": self.spec.to_dict()} if self.spec is not None else {})}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FitResult:
        """A FitResult from :meth:`to_dict`'s output, every field checked (FitFileError naming the field)."""
        return fit_from_dict(d)

    @classmethod
    def from_json(cls, text: str) -> FitResult:
        return cls.from_dict(parse_json(text, "fit JSON"))


# ---- validation of fit files ----------------------------------------------------------------------------------
_FINDING = {"check": expect_str, "params": list_of(expect_str), "message": expect_str}
_FOLD = {"fold": expect_str, "points": expect_int, "max_distance": expect_finite_number,
         "scores": list_of(expect_finite_number)}
# a log-space error beyond 10 (a factor e^10 ≈ 22,000) is no calibration scalefit writes; raw-space ones are finite
MAX_LOG_SCALE = 10.0
_CALIBRATION = {"method": expect_str, "space": choice("log", "raw"), "axes": list_of(expect_str),
                "folds": list_of(fields_of(_FOLD, {"axis": expect_str})), "points": expect_int, "noise": in_range(0.0),
                "growth": in_range(0.0)}
_TOP = {"law": expect_str, "law_options": expect_mapping, "params": expect_mapping, "stats": expect_mapping,
        "search": expect_mapping, "data": expect_mapping}
_TOP_OPTIONAL = {"bootstrap": optional(expect_mapping), "seed": optional(expect_int),
                 "groups": optional(expect_mapping), "group_by": optional(expect_str), "version": expect_str,
                 "targets": optional(list_of(expect_str)),
                 "identifiability": list_of(fields_of(_FINDING)), "calibration": optional(fields_of(_CALIBRATION)),
                 "covariance": optional(expect_mapping),
                 "spec": optional(lambda value, where: _spec(value, where))}
_STATS = {"n": expect_int, "n_params": expect_int, "objective": expect_number, "loss": choice("huber", "mse"),
          "delta": in_range(0.0), "space": choice("log", "raw"), "rmse_log": expect_number, "aic": expect_number,
          "bic": expect_number, "rmse": expect_number}
_SEARCH = {"n_starts": expect_int, "n_reached": expect_int, "converged": expect_bool,
           "best_start": mapping_of(expect_number), "message": expect_str, "warnings": list_of(expect_str),
           "lambda_profile": list_of(pair)}
_DATA = {"source": expect_str, "n_rows": expect_int, "hash": optional(expect_str), "where": expect_filter,
                  "target": expect_str, "provenance": mapping_of(expect_str), "mapping": mapping_of(expect_str),
                  "ranges": mapping_of(ordered_pair), "bootstrap_unit": expect_str,
                  "anchors": list_of(mapping_of(expect_finite_number)), "weight": expect_str, "runs": expect_mapping}


def fit_from_dict(d: Any, where: str = "") -> FitResult:
    """A FitResult from a fit file's object ``d``; errors name the field path, prefixed by ``where``."""
    return FitResult(**_checked_fields(d, where))


def _checked_fields(d: Any, where: str) -> dict:
    """The keyword arguments of FitResult from a fit file's object ``d`` (at field path ``where``), all checked."""
    at = f"{where}." if where else ""
    expect_schema(d, (SCHEMA,), "a scalefit fit")
    fields = expect_fields({k: v for k, v in d.items() if k != "schema"}, where, _TOP, _TOP_OPTIONAL, closed=True)
    law = _law(fields["law"], fields["law_options"], at)
    fields["data"] = expect_fields(fields["data"], f"{at}data", {}, _DATA)
    if fields.get("groups"):
        fields["group_by"] = expect_str(fields.get("group_by"), f"{at}group_by")
        fields["params"] = mapping_of(expect_finite_number)(fields["params"], f"{at}params")
        fields["groups"] = {str(k): fit_from_dict(g, f"{at}groups.{k}") for k, g in fields["groups"].items()}
        if fields.get("targets") is not None and set(fields["targets"]) != set(fields["groups"]):
            raise FitFileError(f"{at}targets: {fields['targets']} are not the fit's groups {sorted(fields['groups'])}")
        return fields
    fields["params"] = _params(fields["params"], law, f"{at}params")
    fields["stats"] = expect_fields(fields["stats"], f"{at}stats", {}, _STATS)
    _check_calibration(fields.get("calibration"), f"{at}calibration")
    if fields.get("covariance") is not None:
        fields["covariance"] = _covariance(fields["covariance"], law, f"{at}covariance")
    fields["search"] = expect_fields(fields["search"], f"{at}search", {}, _SEARCH)
    if fields.get("bootstrap") is not None:
        fields["bootstrap"] = _bootstrap(fields["bootstrap"], law, f"{at}bootstrap")
    return fields


def _spec(value: Any, where: str):
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
    out = {k: expect_finite_number(d[k], f"{where}.{k}") for k in law.param_names}
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
        m = np.asarray([expect_number_list(r, f"{at}[{i}]", finite=True, length=p)
                        for i, r in enumerate(expect_list(v, at))], dtype=float)
        if m.shape != (p, p) or not np.allclose(m, m.T, rtol=1e-9, atol=0) or np.any(np.diag(m) < 0):
            raise FitFileError(f"{at}: expected a symmetric {p} x {p} matrix with a non-negative diagonal")
        return v

    return expect_fields(d, where, {"params": params, "log": log, "method": method, "n": expect_int,
                                    "matrix": matrix})


def _bootstrap(d: dict, law: Law, where: str) -> dict:
    """One list of numbers per parameter, all of the same non-zero length."""
    _same_names(d, law, where, "bootstrap samples of")
    out = {k: expect_number_list(d[k], f"{where}.{k}") for k in law.param_names}
    lengths = {len(v) for v in out.values()}
    if len(lengths) != 1 or 0 in lengths:
        sizes = ", ".join(f"{k}: {len(v)}" for k, v in out.items())
        raise FitFileError(f"{where}: every parameter needs the same non-zero number of bootstrap samples, got {sizes}")
    return out
