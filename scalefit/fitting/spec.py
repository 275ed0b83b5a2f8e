"""FitSpec: how a law fit is made, as one immutable, serialisable value.

A spec holds everything but the rows: the law (its factory options, bounds and fixed parameters ride in
``law.options``), the target column and symbol -> column ``mapping``, the row filter ``where``, the objective
(``loss``, ``delta``, ``space``), the rows' shaping (run key, per-run reducers, row weights, anchors:
:mod:`scalefit.fitting.rows`), the start policy, the bootstrap and whether to calibrate prediction intervals.

    spec = FitSpec.of("chinchilla", where="loss < 3.44", bootstrap=1000)
    fit = spec.fit(runs)                       # one FitResult; fit.spec == spec
    groups = spec.fit_groups(runs, "dataset")  # one per value of a column (a FitSet: value -> FitResult)
    spec.replace(loss="mse")                   # a new spec (``get_params`` / ``clone`` in scikit-learn terms)

Every command builds one (the CLI, ``select``, ``backtest``, the calibration, procedures), and a fold refit is
``spec.for_folds(train_tables).refit(train_tables)``: the same objective and rows on the training rows alone,
started from what was fitted on rows every fold trains on, never from an optimum fitted on held-out rows. The fit
file stores the spec (``to_dict``) and :func:`scalefit.load` rebuilds it (``from_dict``, every field checked).

Start policy (``starts``): None, every point of the law's start grid; an integer K, K grid points drawn with
``seed``; an (S, P) array, those starts in natural units (a fold refit's: :meth:`FitSpec.for_folds`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from scalefit._frozen import freeze, thaw
from scalefit.errors import FitError, FitFileError, ScalefitError
from scalefit.fitting.objective import LOSSES, SPACES
from scalefit.laws import Law, get_law

FOLD_STARTS = 12  # start-grid points (beside the folds' core optimum) of each fold refit
FOLD_EXHAUSTIVE_ROWS = 2048  # a fold refit on more rows is screened (scalefit.fitting.screen), not exhaustive
CORE_STARTS = 512  # start-grid points of the search on the folds' core rows (the whole grid when it is smaller)


@dataclass(frozen=True, repr=False, eq=False)
class FitSpec:
    """How a law is fitted to rows (see the module docstring); build with :meth:`of`."""

    law: Law  # the law, constraints (--param, --fix) included in its options
    target: str | None = None  # column of the law's target symbol (None: resolved by alias)
    mapping: Mapping = field(default_factory=dict)  # symbol -> column
    where: str | None = None  # row filter expression
    loss: str = "huber"  # huber | mse
    delta: float = 1e-3  # Huber threshold
    space: str | None = None  # log | raw residuals (None: log for a positive target)
    bootstrap: int = 0  # resamples (0: none)
    seed: int = 0  # seed of the bootstrap and of a start-grid sample
    bootstrap_by: str | None = None  # resample groups of rows with equal values in this column
    calibrate: bool = True  # calibrate prediction intervals on extrapolation folds
    starts: Any = None  # start policy: None (the law's grid), int K (K grid points drawn with seed), (S, P) starts
    run: str | None = None  # run key column (None: run_id, run or run_name when present)
    reduce: str | None = None  # last | mean-last=K | min | max, per run
    skip_first: float = 0.0  # fraction of each run's first checkpoints dropped
    smooth: int | None = None  # trailing moving-average window over a run's checkpoints
    order: str | None = None  # column ordering a run's checkpoints
    weight: str | None = None  # row-weight column
    anchors: tuple = ()  # fixed points in the law's symbols ({symbol: value[, weight]}, or checked pairs)

    def __post_init__(self) -> None:
        from scalefit._schema import seed_argument, whole_argument
        from scalefit.fitting.bootstrap import check_resamples
        from scalefit.fitting.rows import parse_anchor
        from scalefit.runs import check_mapping, filter_names

        if not isinstance(self.law, Law):
            raise FitError(f"FitSpec.law must be a Law, got {type(self.law).__name__}; use FitSpec.of(name, ...)")
        if self.loss not in LOSSES:  # the objective's own words (scalefit.fitting.objective.Problem)
            raise FitError(f"unknown loss {self.loss!r}; choose one of {LOSSES}")
        space = self.space or ("log" if self.law.positive_target else "raw")
        if space not in SPACES:
            raise FitError(f"unknown space {space!r}; choose one of {SPACES}")
        set_ = object.__setattr__.__get__(self)
        check_resamples(whole_argument(self.bootstrap, "bootstrap"))
        set_("bootstrap", int(self.bootstrap))
        set_("seed", seed_argument(self.seed))
        set_("space", space)
        symbols = [*self.law.inputs, self.law.target, *filter_names(self.where)]  # a --map of another symbol: refused
        set_("mapping", freeze(check_mapping(self.mapping, symbols, f"law {self.law.name!r}")))
        set_("starts", _start_policy(self.starts, len(self.law.param_names)))
        set_("anchors", tuple(freeze(parse_anchor(a)) if isinstance(a, str) else freeze(dict(a))
                              if isinstance(a, Mapping) else a for a in self.anchors or ()))  # others: refused on use

    @classmethod
    def of(cls, law: Law | str, *, law_options: Mapping[str, Any] | None = None,
           params: Mapping[str, Any] | None = None, fix: Mapping[str, float] | None = None, **fields: Any) -> FitSpec:
        """The spec of ``law`` (a name, with ``law_options``, or a Law) with starts/bounds ``params`` and
        parameters held fixed ``fix`` (:meth:`Law.constrained`); ``fields`` are the spec's other fields."""
        from scalefit._schema import expect_argument
        from scalefit.fitting.api import as_law

        base = as_law(law, law_options)
        for name, value in (("params", params), ("fix", fix)):
            expect_argument(value or {}, name, Mapping, "a dict keyed by parameter name")
        return cls(base.constrained(params, fix), **fields)

    # ---- the value ------------------------------------------------------------------------------------------
    def replace(self, **changes: Any) -> FitSpec:
        """A copy with ``changes`` (the spec is immutable)."""
        return dataclasses.replace(self, **changes)

    def get_params(self) -> dict:
        """The spec's fields as plain values (scikit-learn style; :meth:`to_dict` is the same, JSON-ready)."""
        return self.to_dict()

    @property
    def reduces(self) -> bool:
        """Whether the rows are reduced per run before the fit."""
        return self.reduce is not None or self.skip_first != 0 or self.smooth is not None

    @cached_property
    def columns(self) -> dict:
        """symbol -> column: the mapping, with the target column for the law's target symbol."""
        return {**self.mapping, **({self.law.target: self.target} if self.target is not None else {})}

    def start_points(self) -> np.ndarray:
        """The (S, P) start points of the search in natural units (the start policy applied)."""
        if self.starts is None:
            return self.law.start_grid()
        if isinstance(self.starts, int):
            return _grid_sample(self.law, self.starts, self.seed)
        return np.array(self.starts, dtype=float)

    def for_folds(self, trains: Sequence[Any], n_starts: int = FOLD_STARTS) -> FitSpec:
        """The spec of the refits of folds whose training rows are ``trains`` (RunTables of this spec's prepared
        rows): this fit's objective and rows with no bootstrap and no calibration, started from the optimum of a
        search on the rows every fold trains on (their intersection: no fold's held-out row is in it; from
        :data:`CORE_STARTS` grid points drawn with ``seed``, the grid widened around its best optima when few
        reach them) and ``n_starts`` grid points drawn with ``seed``; from the grid points alone when that core
        is too small to fit. Nothing fitted on a fold's held-out rows (the full-data optimum, say) seeds a refit.
        The core search subsamples the grid: it is a second search beside the full fit's own, whose whole grid
        there made a calibrated fit several times slower, and a fold refit also descends from its own grid points."""
        folds = self.replace(bootstrap=0, calibrate=False)
        pick = _grid_sample(self.law, n_starts, self.seed)
        core = trains[0].frame.index if trains else None
        for other in trains[1:]:
            core = core.intersection(other.frame.index)
        core_starts = CORE_STARTS if len(self.law.start_grid()) > CORE_STARTS else None
        best = folds.replace(starts=core_starts).refit([trains[0].subset(core)])[0] if trains and len(core) else None
        if isinstance(best, Mapping):
            pick = np.vstack([[[best[p] for p in self.law.param_names]], pick])
        return folds.replace(starts=pick)

    # ---- fitting ---------------------------------------------------------------------------------------------
    def fit(self, data: Any) -> Any:
        """The law fitted to ``data`` (a RunTable, a DataFrame or a path): one FitResult."""
        from scalefit.fitting.api import as_table, fit_parts

        table, spec = self.prepare(as_table(data))
        return fit_parts([(table, spec, None)], self)[0]

    def fit_groups(self, data: Any, by: str) -> Any:
        """One fit per value of column ``by``, searched (and calibrated) together: a FitSet keyed by value."""
        from scalefit.fitting.api import as_table, fit_parts
        from scalefit.runs import group_rows

        table, spec = self.prepare(as_table(data))
        values = group_rows(table, by)  # a RunDataError for a missing column, a warning for empty cells
        parts = [(table.subset(rows), spec, f"{by} = {value}") for value, rows in values.items()]
        return _fit_set(dict(zip(map(str, values), fit_parts(parts, self))), by, None, table, self)

    def fit_targets(self, data: Any, targets: Sequence[str]) -> Any:
        """The law fitted to each target column, searched (and calibrated) together: a FitSet keyed by column."""
        from scalefit.fitting.api import as_table, fit_parts
        from scalefit.fitting.fit_set import TARGET_GROUP

        table = as_table(data)
        specs = [self.replace(target=t) for t in targets]
        fits = fit_parts([(*s.prepare(table), None) for s in specs], self, specs)
        return _fit_set(dict(zip(targets, fits)), TARGET_GROUP, tuple(targets), table, self)

    def prepare(self, table: Any) -> tuple[Any, FitSpec]:
        """The rows this spec fits (filtered, reduced per run) and the spec that fits exactly those rows: the
        target folded into the mapping, the run key resolved, the anchors checked, nothing left to filter or
        reduce (so ``prepared.fit(rows.subset(...))`` fits a subset of the same rows the same way)."""
        from scalefit.fitting.rows import prepare
        from scalefit.runs import filter_rows

        rows, shaped = prepare(filter_rows(table, self.where, mapping=self.columns), self.law, self.columns, self,
                               self.space)
        return rows, shaped.replace(target=None, mapping=self.columns, where=None, reduce=None, skip_first=0.0,
                                    smooth=None)

    def pre_reduced(self, data: Any) -> tuple[Any, FitSpec]:
        """``data`` reduced per run by this spec's reducers (``reduce``, ``skip_first``, ``smooth``, ``order``) and
        the spec without them: what a backtest does before its split, so fitted and held-out rows are reduced
        alike (reducing only the training rows would compare a run's last checkpoint with all of another's)."""
        asked = {k: getattr(self, k) for k in ("reduce", "skip_first", "smooth", "order")}
        if all(v in (None, 0.0) for v in asked.values()):
            return data, self
        from scalefit.fitting.api import as_table
        from scalefit.runs.reduce import reduce_target

        rows = reduce_target(as_table(data), self.target, self.law.target, run=self.run, mapping=dict(self.mapping),
                             **asked)
        return rows, self.replace(reduce=None, skip_first=0.0, smooth=None, order=None)

    def refit(self, tables: Sequence[Any]) -> list:
        """The law's parameters ({name: value}) on each of ``tables`` (fold training rows), all in one stacked
        search with this spec's starts; an entry is the exception for a table that could not be fitted. No
        bootstrap, calibration or diagnostics: what a fold needs to predict its held-out rows."""
        from scalefit.fitting.api import refit_parts

        return refit_parts([(self, t) for t in tables])

    # ---- serialisation ---------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """A plain JSON-ready dict (law by name and factory options)."""
        out = {f.name: thaw(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "law"}
        out["starts"] = self.starts if not isinstance(self.starts, tuple) else [list(s) for s in self.starts]
        out["anchors"] = [{**a[0], "weight": a[1]} if isinstance(a, tuple) else thaw(a) for a in self.anchors]
        return {"law": self.law.name, "law_options": thaw(self.law.options), **out}

    @classmethod
    def from_dict(cls, d: Any, where: str = "spec") -> FitSpec:
        """A FitSpec from :meth:`to_dict`'s output, every field checked (FitFileError naming the field)."""
        from scalefit._schema import expect_fields, expect_mapping, expect_str

        known = {f.name for f in dataclasses.fields(cls)} | {"law_options"}
        d = expect_fields(d, where, {"law": expect_str, "law_options": expect_mapping},
                          {k: _loose for k in known - {"law", "law_options"}}, closed=True)
        try:
            law = get_law(d.pop("law"), **d.pop("law_options"))
            return cls(law, **{k: _field_value(k, v, f"{where}.{k}") for k, v in d.items()})
        except FitFileError:
            raise
        except (ScalefitError, TypeError, ValueError) as exc:
            raise FitFileError(f"{where}: {' '.join(str(exc).split())}") from None

    def __eq__(self, other: object) -> bool:
        """Specs are equal when they make the same fit: the same law (by name and options) and fields."""
        return isinstance(other, FitSpec) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        import json

        return hash(json.dumps(self.to_dict(), sort_keys=True, default=str))

    def __repr__(self) -> str:
        """``FitSpec('chinchilla', where='loss < 3.44', bootstrap=1000)``: the fields that differ from the
        defaults."""
        default = FitSpec(self.law)
        shown = [f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self)
                 if f.name != "law" and getattr(self, f.name) != getattr(default, f.name)]
        options = f", law_options={thaw(self.law.options)!r}" if self.law.options else ""
        return f"FitSpec({self.law.name!r}{options}{''.join(', ' + s for s in shown)})"


def _fit_set(fits: dict, by: str, targets: tuple | None, table: Any, spec: FitSpec) -> Any:
    """The FitSet of ``fits`` of ``spec`` to parts of ``table`` (its source, rows and hash as the set's data)."""
    from scalefit.fitting.fit_set import FitSet

    return FitSet(fits, by, targets, {"source": table.source, "n_rows": len(table), "hash": table.digest()}, spec)


def _grid_sample(law: Law, k: int, seed: int) -> np.ndarray:
    """``k`` points of the law's start grid drawn without replacement with ``seed`` (all when it has fewer)."""
    grid = law.start_grid()
    return grid[np.random.default_rng(seed).choice(len(grid), size=min(k, len(grid)), replace=False)]


def _start_policy(starts: Any, n_params: int) -> Any:
    """None, a positive int, or a tuple of P-tuples of floats (an (S, P) array made immutable)."""
    if starts is None:
        return None
    if isinstance(starts, (int, np.integer)) and not isinstance(starts, bool):
        if starts < 1:
            raise FitError(f"starts={starts}: a number of start-grid points must be >= 1")
        return int(starts)
    a = np.atleast_2d(np.asarray(starts, dtype=float))
    if a.ndim != 2 or a.shape[1] != n_params or a.shape[0] == 0:
        raise FitError(f"starts: expected an (S, {n_params}) array of start points, got shape {a.shape}")
    return tuple(tuple(float(v) for v in row) for row in a)


def _loose(value: Any, where: str) -> Any:
    return value  # each field is checked by _field_value and by FitSpec itself


_TYPES = {"target": str, "where": str, "loss": str, "space": str, "bootstrap_by": str, "run": str, "reduce": str,
          "order": str, "weight": str, "bootstrap": int, "seed": int, "smooth": int, "calibrate": bool,
          "delta": float, "skip_first": float, "mapping": dict, "anchors": list}


def _field_value(name: str, value: Any, where: str) -> Any:
    """A stored spec field, type-checked (None allowed where the field may be unset)."""
    from scalefit._schema import expect_bool, expect_finite_number, expect_int, expect_mapping, expect_str, list_of

    if value is None and name not in ("loss", "delta", "bootstrap", "seed", "calibrate", "skip_first"):
        return None
    check = {str: expect_str, int: expect_int, bool: expect_bool, float: expect_finite_number, dict: expect_mapping,
             list: list_of(expect_mapping)}.get(_TYPES.get(name))
    if check is not None:
        return check(value, where)
    if name == "starts" and not isinstance(value, (int, list)):
        raise FitFileError(f"{where}: expected null, a number of start points or a list of start points")
    return value


__all__ = ["CORE_STARTS", "FOLD_STARTS", "FitSpec"]
