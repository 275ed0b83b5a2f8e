"""FitResult: the immutable outcome of a fit, with prediction, intervals, report and JSON round trip."""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalefit.errors import ExtrapolationWarning, FitError, FitFileError
from scalefit.laws import Law, get_law

SCHEMA = "scalefit.fit/1"


@dataclass(frozen=True)
class FitResult:
    """A fitted law. Parameters are natural units; ``bootstrap`` holds one sample list per parameter."""

    law: str  # registry name of the law
    law_options: dict  # factory options that rebuild the law (e.g. the formula of an `expr` law)
    params: dict  # parameter name -> fitted value
    stats: dict  # n, n_params, objective, loss, delta, space, rmse_log, aic, bic
    search: dict  # n_starts, n_reached, best_start, converged, message, warnings
    data: dict  # source, hash, n_rows, ranges per symbol, provenance, target, where
    bootstrap: dict | None = None  # parameter name -> list of bootstrap estimates (None if not run)
    seed: int | None = None  # bootstrap seed
    groups: dict | None = None  # group value -> FitResult, when fitted with group_by
    group_by: str | None = None  # the grouping column
    version: str = field(default_factory=lambda: __import__("scalefit").__version__)  # scalefit version

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
            raise FitError(f"no group {key!r} in this fit; groups are {sorted(self.groups)}")
        return self.groups[key]

    def _single(self, group: object | None) -> FitResult:
        if self.groups:
            if group is None:
                raise FitError(
                    f"this fit is grouped by {self.group_by!r}; say which group: one of {sorted(self.groups)}"
                )
            return self.group(group)
        return self

    # ---- inputs and prediction ----------------------------------------------------------
    def _inputs(self, inputs: Mapping[str, Any] | pd.DataFrame) -> dict[str, np.ndarray]:
        from scalefit.runs import RunTable, resolve

        frame = inputs if isinstance(inputs, pd.DataFrame) else pd.DataFrame(
            {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in inputs.items()}
        )
        table = RunTable.from_frame(frame, "<prediction inputs>")
        mapping = {s: c for s, c in self.data.get("mapping", {}).items() if c in frame.columns}
        x = resolve(table, self.law_spec.inputs, mapping=mapping).values
        self._warn_extrapolation(x)
        return x

    def _warn_extrapolation(self, x: Mapping[str, np.ndarray]) -> None:
        ranges = self.data.get("ranges", {})
        outside = []
        for s, v in x.items():
            if s in ranges:
                lo, hi = ranges[s]
                if np.any(v < lo * (1 - 1e-9)) or np.any(v > hi * (1 + 1e-9)):
                    outside.append(f"{s} in [{np.min(v):.4g}, {np.max(v):.4g}] vs fitted [{lo:.4g}, {hi:.4g}]")
        if outside:
            warnings.warn("extrapolating beyond the fitted range: " + "; ".join(outside), ExtrapolationWarning,
                          stacklevel=3)

    def predict(self, inputs: Mapping[str, Any] | pd.DataFrame, *, group: object | None = None) -> np.ndarray:
        """Predicted target at ``inputs`` (symbols or columns; e.g. ``{"N": 7e10, "D": 1.4e12}``)."""
        res = self._single(group)
        x = res._inputs(inputs)
        return np.asarray(res.law_spec(x, res.params), dtype=float).reshape(-1)

    def samples(self, inputs: Mapping[str, Any] | pd.DataFrame, *, group: object | None = None) -> np.ndarray:
        """(n_boot, n_points) predictions, one row per bootstrap fit."""
        res = self._single(group)
        if not res.bootstrap:
            raise FitError("no bootstrap in this fit; refit with bootstrap=N (CLI: --bootstrap N) for intervals")
        x = res._inputs(inputs)
        p = {k: np.asarray(v, dtype=float)[:, None] for k, v in res.bootstrap.items()}
        n_boot = len(next(iter(p.values())))
        n_points = len(next(iter(x.values()))) if x else 1
        with np.errstate(all="ignore"):
            return np.broadcast_to(res.law_spec.formula(x, p), (n_boot, n_points))

    def predict_interval(
        self, inputs: Mapping[str, Any] | pd.DataFrame, *, level: float = 0.95, group: object | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Percentile bootstrap interval (lower, upper) of the prediction at ``inputs``."""
        s = self.samples(inputs, group=group)
        q = 100 * (1 - level) / 2
        return np.nanpercentile(s, q, axis=0), np.nanpercentile(s, 100 - q, axis=0)

    # ---- parameters and derived quantities ----------------------------------------------
    def param_samples(self, *, group: object | None = None) -> dict[str, np.ndarray] | None:
        res = self._single(group)
        return None if not res.bootstrap else {k: np.asarray(v, dtype=float) for k, v in res.bootstrap.items()}

    def intervals(self, *, level: float = 0.95, group: object | None = None) -> dict[str, tuple[float, float]]:
        """Percentile bootstrap intervals of every parameter and every scalar derived quantity."""
        res = self._single(group)
        samples = res.param_samples()
        if samples is None:
            return {}
        q = 100 * (1 - level) / 2
        out = {k: tuple(float(v) for v in np.nanpercentile(s, [q, 100 - q])) for k, s in samples.items()}
        for name, d in res.law_spec.derived.items():
            if not d.needs:
                with np.errstate(all="ignore"):
                    vals = np.asarray(d.fn(samples), dtype=float)
                out[name] = tuple(float(v) for v in np.nanpercentile(vals, [q, 100 - q]))
        return out

    def derived(self, name: str, *, group: object | None = None, **extra: Any) -> np.ndarray:
        """A derived quantity of the law (e.g. ``N_opt`` with ``C=5.88e23``) at the fitted parameters."""
        res = self._single(group)
        d = res._derived_spec(name, extra)
        p = {k: np.asarray(v, dtype=float) for k, v in res.params.items()}
        return np.asarray(d.fn(p, **extra), dtype=float)

    def derived_interval(
        self, name: str, *, level: float = 0.95, group: object | None = None, **extra: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        """Percentile bootstrap interval of a derived quantity."""
        res = self._single(group)
        d = res._derived_spec(name, extra)
        samples = res.param_samples()
        if samples is None:
            raise FitError("no bootstrap in this fit; refit with bootstrap=N (CLI: --bootstrap N) for intervals")
        p = {k: v.reshape((-1,) + (1,) * max(np.ndim(e) for e in [*extra.values(), 0])) for k, v in samples.items()}
        with np.errstate(all="ignore"):
            vals = np.asarray(d.fn(p, **extra), dtype=float)
        q = 100 * (1 - level) / 2
        return np.nanpercentile(vals, q, axis=0), np.nanpercentile(vals, 100 - q, axis=0)

    def _derived_spec(self, name: str, extra: Mapping[str, Any]):
        law = self.law_spec
        if name not in law.derived:
            raise FitError(f"law {law.name!r} has no derived quantity {name!r}; it has {sorted(law.derived)}")
        d = law.derived[name]
        missing = [k for k in d.needs if k not in extra]
        if missing:
            raise FitError(f"{name} needs {missing} (e.g. C=1e24 for a compute budget)")
        return d

    # ---- report and serialisation -------------------------------------------------------
    def report(self, *, level: float = 0.95) -> str:
        """A human-readable summary."""
        from scalefit.fitting.report import format_report

        return format_report(self, level=level)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["groups"] = None if self.groups is None else {k: g.to_dict() for k, g in self.groups.items()}
        return {"schema": SCHEMA, **d}

    def to_json(self) -> str:
        from scalefit._io import json_default

        return json.dumps(self.to_dict(), indent=2, default=json_default)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FitResult:
        if d.get("schema") != SCHEMA:
            raise FitFileError(f"not a scalefit fit (schema {d.get('schema')!r}, expected {SCHEMA!r})")
        fields = {k: v for k, v in d.items() if k != "schema"}
        if fields.get("groups"):
            fields["groups"] = {k: cls.from_dict(g) for k, g in fields["groups"].items()}
        try:
            return cls(**fields)
        except TypeError as exc:
            raise FitFileError(f"fit file does not match this scalefit version: {exc}") from None

    @classmethod
    def from_json(cls, text: str) -> FitResult:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise FitFileError(f"fit file is not valid JSON: {exc}") from None

    @classmethod
    def load(cls, path: str | Path) -> FitResult:
        p = Path(path)
        if not p.exists():
            raise FitFileError(f"{p}: fit file not found; create one with `scalefit fit LAW RUNS.csv --out {p}`")
        try:
            return cls.from_json(p.read_text())
        except FitFileError as exc:
            raise FitFileError(f"{p}: {exc}") from None

    def save(self, path: str | Path) -> Path:
        from scalefit._io import write_text_atomic

        return write_text_atomic(path, self.to_json() + "\n")
