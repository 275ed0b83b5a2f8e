"""Optimal learning rate and batch size from an LR x batch grid per (N, D) cell: the whole procedure.

``fit_hparams(runs)``:

1. resolves N, D, lr, B and the loss L (and C = 6ND when no compute column), converting batch sizes
   from sequences to tokens when ``seq_len`` is given (a number, or a column holding it per run);
2. finds each cell's optimum and near-optimal band (:mod:`scalefit.planning.hparam_cells`);
3. fits ``hparam-steplaw`` (lr* in N and D, B* in D) and ``hparam-compute`` (lr*, B* in C) by least
   squares in log space (``loss="mse"``) on the band runs (``fit_on="band"``, the Step Law procedure)
   or on the refined per-cell optima (``fit_on="optimum"``), with a bootstrap over those runs;
4. optionally fits the ``lr-bsz`` loss valley to the runs within ``surface_tol`` of their cell's
   minimum, started from the Step Law fits and a Chinchilla fit of the cell minima;
5. checks the recommendation: for each cell, the run nearest (in ln lr, ln B) to the law's (lr*, B*) and
   its loss gap to the cell's best, both in-sample and with the cell left out of the fit.

The result, :class:`HparamFit`, is data: ``recommend(N, D)``, ``report()``, ``save``/``load``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scalefit import _schema as S  # the field checkers of every result file (S.expect_str, ...)
from scalefit._frozen import freeze_fields, plain_fields
from scalefit._progress import each
from scalefit.errors import FitError, FitFileError, RunDataError
from scalefit.fitting import FitResult, fit_law
from scalefit.fitting.result import fit_from_dict
from scalefit.fitting.rows import filtered_rows
from scalefit.planning.hparam_cells import BAND_TOL, REFINE_TOL, band_mask, cell_optima, nearest_run
from scalefit.results import ResultFile
from scalefit.runs import RunTable, resolve

SCHEMA = "scalefit.hparams/1"
FIT_ON = ("band", "optimum")
LAWS = {"lr": ("hparam-steplaw", "lr"), "B": ("hparam-steplaw", "B"),
        "lr_C": ("hparam-compute", "lr"), "B_C": ("hparam-compute", "B")}


def resolve_grid(table: RunTable, *, mapping: Mapping[str, str] | None = None,
                 seq_len: float | str | None = None) -> tuple[pd.DataFrame, dict]:
    """A frame with columns N, D, C, lr, B, L (B in tokens when ``seq_len`` is given) and its provenance."""
    res = resolve(table, ["N", "D", "C", "lr", "B", "L"], mapping=mapping)
    frame = pd.DataFrame({s: res.values[s] for s in ("N", "D", "C", "lr", "B", "L")}, index=res.rows)
    prov = dict(res.provenance)
    if seq_len is None:
        prov["batch_unit"] = f"as in {prov['B']} (pass seq_len to convert sequences to tokens)"
        return frame, prov
    if isinstance(seq_len, str) and seq_len in table.columns:
        per_row = resolve(table, ["seq_len"], mapping={"seq_len": seq_len}, positive=["seq_len"]).values["seq_len"]
        frame["B"] = frame["B"] * per_row
        prov["batch_unit"] = f"tokens ({prov['B']} x column {seq_len!r})"
        return frame, prov
    try:
        n = float(seq_len)
    except (TypeError, ValueError):
        raise RunDataError(
            f"{table.source}: seq_len={seq_len!r} is neither a number nor a column; columns are {table.columns}"
        ) from None
    if not n > 0:
        raise RunDataError(f"seq_len must be > 0 tokens per sequence, got {seq_len}")
    frame["B"] = frame["B"] * n
    prov["batch_unit"] = f"tokens ({prov['B']} x seq_len {n:g})"
    return frame, prov


def _fit_law(key: str, table: pd.DataFrame, source: str, bootstrap: int, seed: int) -> FitResult:
    name, target = LAWS[key]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # exponents near the (wide) bounds are reported by the check below
        return fit_law(name, RunTable.from_frame(table, source), loss="mse", law_options={"target": target},
                   bootstrap=bootstrap, seed=seed, calibrate=False)  # lr*/B* laws: their intervals are mean ones


def _law_rows(frame: pd.DataFrame, cells: pd.DataFrame, fit_on: str, tol: float) -> pd.DataFrame:
    """The rows the laws are fitted on: the band runs, or one refined optimum per cell."""
    if fit_on == "band":
        return frame[band_mask(frame, tol=tol)].loc[:, ["N", "D", "C", "lr", "B", "L"]]
    t = cells.rename(columns={"lr_opt": "lr", "B_opt": "B", "loss_opt": "L"}).loc[:, ["N", "D", "lr", "B", "L"]]
    return t.assign(C=6.0 * t["N"] * t["D"])


def _check(frame: pd.DataFrame, cells: pd.DataFrame, fits: Mapping[str, FitResult], fit_on: str,
           tol: float, loo: bool) -> list[dict]:
    """Per cell: the run nearest the recommended (lr, B) and its relative gap to the cell minimum."""
    cells_of = each("leave-one-cell-out checks" if loo else "recommendation checks",
                    frame.groupby(["N", "D"], sort=True), lambda c: f"N = {c[0][0]:.3g}, D = {c[0][1]:.3g}")
    return [_check_cell(frame, cells, fits, fit_on, tol, loo, n, d, sub) for (n, d), sub in cells_of]


def _check_cell(frame: pd.DataFrame, cells: pd.DataFrame, fits: Mapping[str, FitResult], fit_on: str, tol: float,
                loo: bool, n: float, d: float, sub: pd.DataFrame) -> dict:
    """One cell's check: the run nearest the recommended (lr, B), and with ``loo`` the same from laws refitted
    without the cell."""
    rec = _recommend_point(fits, n, d)
    j = nearest_run(sub, rec["lr"], rec["B"])
    best = float(sub["L"].min())
    row = {"N": n, "D": d, "lr_rec": rec["lr"], "B_rec": rec["B"], "lr_run": float(sub["lr"].iloc[j]),
           "B_run": float(sub["B"].iloc[j]), "gap": float(sub["L"].iloc[j] / best - 1.0)}
    if loo:
        rest = frame[(frame["N"] != n) | (frame["D"] != d)]
        rest_cells = cells[(cells["N"] != n) | (cells["D"] != d)]
        sub_fits = {k: _fit_law(k, _law_rows(rest, rest_cells, fit_on, tol), "<leave-one-cell-out>", 0, 0)
                    for k in ("lr", "B")}
        rec = _recommend_point(sub_fits, n, d)
        j = nearest_run(sub, rec["lr"], rec["B"])
        row.update(lr_loo=rec["lr"], B_loo=rec["B"], gap_loo=float(sub["L"].iloc[j] / best - 1.0))
    return row


def _recommend_point(fits: Mapping[str, FitResult], n: float, d: float) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {"lr": float(fits["lr"].predict({"N": n, "D": d})[0]), "B": float(fits["B"].predict({"D": d})[0])}


def fit_hparams(
    data, *, target: str | None = None, mapping: Mapping[str, str] | None = None, where: str | None = None,
    tol: float = BAND_TOL, fit_on: str = "band", seq_len: float | str | None = None, refine_tol: float = REFINE_TOL,
    surface: bool = True, surface_tol: float = 0.02, loo: bool = True, bootstrap: int = 0, seed: int = 0,
) -> HparamFit:
    """The whole optimal-hyperparameter procedure; see the module docstring. ``target`` names the loss column."""
    if fit_on not in FIT_ON:
        raise FitError(f"fit_on must be one of {FIT_ON}, got {fit_on!r}")
    if isinstance(seq_len, (int, float)) and not isinstance(seq_len, bool):
        seq_len = float(seq_len)  # one type in the result and in its file
    table, mapping = filtered_rows(data, where, mapping, target)
    frame, prov = resolve_grid(table, mapping=mapping, seq_len=seq_len)
    cells = cell_optima(frame, tol=tol, refine_tol=refine_tol)
    if len(cells) < 3:
        raise RunDataError(f"{table.source}: {len(cells)} (N, D) cells; the hyperparameter laws need at least 3")
    fitted = _law_rows(frame, cells, fit_on, tol)
    source = f"{table.source} ({'band runs' if fit_on == 'band' else 'cell optima'})"
    fits = {}
    for k in each("hyperparameter laws", [*LAWS, *(["surface"] if surface else [])],
                  lambda k: f"{LAWS[k][0]} ({LAWS[k][1]}*)" if k in LAWS else "lr-bsz loss surface"):
        if k in LAWS:
            fits[k] = _fit_law(k, fitted, source, bootstrap, seed)
        else:
            from scalefit.planning.hparam_surface import fit_surface

            fits[k] = fit_surface(frame, cells, fits, tol=surface_tol, source=table.source, bootstrap=bootstrap,
                                  seed=seed)
    options = {"tol": tol, "fit_on": fit_on, "seq_len": seq_len, "refine_tol": refine_tol, "surface": surface,
               "surface_tol": surface_tol, "loo": loo, "bootstrap": bootstrap, "seed": seed, "where": where,
               "mapping": mapping}
    info = {"source": table.source, "n_rows": len(frame), "n_fitted": len(fitted), "hash": table.digest(),
            "provenance": prov}
    check = _check(frame, cells, fits, fit_on, tol, loo)
    return HparamFit(cells=cells.to_dict("records"), fits=fits, options=options, data=info, check=check)


@dataclass(frozen=True)
class HparamFit(ResultFile):
    """Per-cell optima, the fitted hyperparameter laws (and loss valley), and the recommendation check."""

    FILE_KIND = "hyperparameter fit"
    FILE_HINT = "create it with `scalefit fit hparams RUNS.csv --out {path}`"

    cells: list  # one dict per (N, D) cell (see hparam_cells.cell_optima)
    fits: dict  # "lr", "B" (Step Law), "lr_C", "B_C" (compute form), optional "surface" -> FitResult
    options: dict  # tol, fit_on, seq_len, refine_tol, surface, surface_tol, loo, bootstrap, seed, where, mapping
    data: dict  # source, n_rows, n_fitted, hash, provenance (incl. batch_unit)
    check: list  # per cell: recommended lr/B, nearest run, its gap (and leave-one-cell-out gap)

    def __post_init__(self) -> None:
        freeze_fields(self)  # results are immutable data

    @property
    def exponents(self) -> dict:
        p = {k: self.fits[k].params for k in LAWS}
        return {"alpha": p["lr"]["alpha"], "beta": p["lr"]["beta"], "gamma": p["B"]["gamma"],
                "a": p["lr_C"]["a"], "b": p["B_C"]["b"]}

    def mean_gap(self, *, loo: bool = False) -> float:
        """Mean over cells of the nearest-run relative loss gap at the recommended (lr, B)."""
        key = "gap_loo" if loo else "gap"
        vals = [r[key] for r in self.check if key in r]
        if not vals:
            raise FitError("this fit has no leave-one-cell-out check (refit with loo=True)")
        return float(np.mean(vals))

    def predict(self, points: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Recommended ``lr`` and batch ``B`` (the Step Law fits) at ``points`` with ``N`` and ``D`` arrays."""
        n = np.atleast_1d(np.asarray(points["N"], dtype=float))
        d = np.atleast_1d(np.asarray(points["D"], dtype=float))
        return {"lr": self.fits["lr"].predict({"N": n, "D": d}), "B": self.fits["B"].predict({"D": d})}

    def recommend(self, n_params: float, n_tokens: float, *, level: float = 0.95, lr: float | None = None,
                  batch: float | None = None) -> dict:
        from scalefit.planning.hparam_plan import recommend

        return recommend(self, n_params, n_tokens, level=level, lr=lr, batch=batch)

    def report(self, *, level: float = 0.95) -> str:
        from scalefit.planning.hparam_plan import format_hparams

        return format_hparams(self, level=level)

    # ---- serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = plain_fields(self)
        d["fits"] = {k: f.to_dict() for k, f in self.fits.items()}
        return {"schema": SCHEMA, **d}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> HparamFit:
        """An HparamFit from :meth:`to_dict`'s output, every field checked (FitFileError naming the field)."""
        f = S.expect_result(d, (SCHEMA,), "a scalefit hyperparameter fit",
                            {"cells": S.expect_list, "fits": S.expect_mapping, "options": S.expect_mapping,
                             "data": S.expect_mapping, "check": S.expect_list})
        fits = S.expect_fields(f["fits"], "fits", dict.fromkeys(LAWS, fit_from_dict), {"surface": fit_from_dict},
                               closed=True)
        for key, law in {**{k: v[0] for k, v in LAWS.items()}, "surface": "lr-bsz"}.items():
            if key in fits and fits[key].law != law:
                raise FitFileError(f"fits.{key}: expected a {law!r} fit, got a {fits[key].law!r} fit")
        return cls(cells=S.list_of(S.fields_of(_CELL))(f["cells"], "cells"), fits=fits,
                   options=S.expect_fields(f["options"], "options", _OPTIONS),
                   data=S.expect_fields(f["data"], "data", _DATA),
                   check=S.list_of(S.fields_of(_CHECK))(f["check"], "check"))


_CELL = {k: S.expect_number for k in ("N", "D", "loss_min", "lr_argmin", "B_argmin", "lr_opt", "B_opt", "band_lr_min",
                                      "band_lr_max", "band_B_min", "band_B_max")} | {"n_runs": S.expect_int,
                                                                                     "n_band": S.expect_int}
_CHECK = {k: S.expect_number for k in ("N", "D", "lr_rec", "B_rec", "lr_run", "B_run", "gap")}
_OPTIONS = {"tol": S.expect_number, "fit_on": S.expect_str, "refine_tol": S.expect_number, "surface": S.expect_bool,
            "surface_tol": S.expect_number, "loo": S.expect_bool, "bootstrap": S.expect_int, "seed": S.expect_int,
            "where": S.expect_filter, "mapping": S.mapping_of(S.expect_str),
            "seq_len": lambda v, w: v if v is None or isinstance(v, str) else S.expect_number(v, w)}
_DATA = {"source": S.expect_str, "n_rows": S.expect_int, "n_fitted": S.expect_int, "hash": S.optional(S.expect_str),
         "provenance": S.mapping_of(S.expect_str)}
