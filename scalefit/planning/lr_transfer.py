"""Learning-rate transfer across widths (SP vs muP): optimum per width, its slope, and LR sensitivity.

From an LR sweep at several widths under each parametrization (columns ``lr``, ``width``,
``parametrization``, ``loss``, optionally ``seed`` and ``status``):

* loss against log2(lr) per width, averaged over seeds; a run with status ``diverged`` (or a missing or
  non-finite loss) counts as failed, with loss = the initial loss L0 (ln 256 for a byte-level model
  unless an ``initial_loss`` column or option gives it); runs with any other status than ``ok`` are left out;
* the optimum per width: a least-squares parabola in log2(lr) over the grid minimum and ``half_window``
  grid points on each side (failed points left out), its vertex when convex and inside the window,
  else the grid argmin (flagged ``at_edge`` when that is the first or last lr of the sweep);
  its bootstrap interval resamples whole seeds (each seed's loss curve over the width's LRs, a cluster
  bootstrap) when every seed trained every LR once; else seeds within each (width, lr) cell when every cell has
  several; else residuals of the window fit (draws and percentile intervals from
  :mod:`scalefit.fitting.resample`; each parametrization draws from ``default_rng(seed + k)``, k its place in
  sorted order, widths in turn). Whole seeds are the unit because a seed's runs share their data order and
  much of their init: one seed's curve sits above another's at every LR, which moves the mean curve but not
  its optimum, and resampling seeds cell by cell would splice curves no seed trained;
* the slope of log2 eta* against log2 width (ordinary least squares; ~0 means the LR transfers, -1 is
  SP's 1/width under Adam), with the wider of the bootstrap percentile interval and the t interval of
  the regression; and the optimal LR predicted at a target width;
* Wortsman et al. 2023 ("Small-scale proxies for large-scale Transformer training instabilities")
  LR sensitivity per width: the mean over the swept LRs of min(L(lr), L0) - min over lr of L(lr).

Noci et al. 2024 ("Why do learning rates transfer?") and Yang et al. 2022 (muP, "Tensor Programs V")
explain why the muP slope should be ~0 and SP's negative.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from scalefit.errors import RunDataError
from scalefit.fitting.covariance import t_quantile
from scalefit.fitting.lr_transfer_result import LRTransferResult
from scalefit.fitting.resample import (
    percentile_interval,
    resample_counts,
    resample_indices,
    stratified_indices,
    tail_percent,
)
from scalefit.fitting.rows import filtered_rows
from scalefit.runs import RunTable, column_for, resolve

BYTE_INITIAL_LOSS = float(np.log(256.0))  # cross-entropy of a uniform guess over 256 byte values
OK_STATUSES = frozenset({"ok", ""})


# Equivalence margin of the transfer verdict: |slope| <= 0.25 in log2 lr* per doubling of width, i.e. lr* moves
# by at most 2^0.25 = 1.19x per doubling (a quarter of SP's -1 under Adam).
EQUIVALENCE_MARGIN = 0.25
TRANSFERS = "transfers"


def _runs_frame(table: RunTable, mapping: Mapping[str, str], initial_loss: float | None) -> tuple[pd.DataFrame, dict]:
    """Columns param, width, lr, seed, L, failed, L0 for the usable runs, and notes about what was read."""
    frame = table.frame
    res = resolve(table, ["lr", "width"], mapping=mapping)
    loss_col = column_for(table, "L", mapping)
    if loss_col is None:
        raise RunDataError(f"{table.source}: no loss column (looked for 'L', 'loss', 'final_loss', ...); "
                           "name it with --target COLUMN or --map L=COLUMN")
    status = (frame["status"].fillna("").astype(str).str.strip().str.lower() if "status" in frame.columns
              else pd.Series("", index=frame.index))
    loss = pd.to_numeric(frame[loss_col], errors="coerce").to_numpy(dtype=float)
    failed = (status == "diverged").to_numpy() | ~np.isfinite(loss)
    keep = (status.isin(OK_STATUSES) | (status == "diverged")).to_numpy()
    par_col = mapping.get("parametrization", "parametrization")
    param = frame[par_col].astype(str).to_numpy() if par_col in frame.columns else np.full(len(frame), "all")
    seed = frame["seed"].to_numpy() if "seed" in frame.columns else np.zeros(len(frame), dtype=int)
    if initial_loss is not None:
        l0, l0_src = np.full(len(frame), float(initial_loss)), f"option initial_loss={initial_loss:g}"
    elif "initial_loss" in frame.columns:
        l0 = pd.to_numeric(frame["initial_loss"], errors="coerce").to_numpy(dtype=float)
        l0_src = "column 'initial_loss'"
        if not np.isfinite(l0[keep]).all():
            raise RunDataError(f"{table.source}: column 'initial_loss' has missing values; fill it or pass "
                               "--opt initial_loss=VALUE")
    else:
        l0, l0_src = np.full(len(frame), BYTE_INITIAL_LOSS), "ln 256 (byte-level vocabulary; --opt initial_loss=...)"
    out = pd.DataFrame({"param": param, "width": res.values["width"], "lr": res.values["lr"], "seed": seed,
                        "L": np.where(failed, l0, loss), "failed": failed, "L0": l0})[keep]
    if out.empty:
        raise RunDataError(f"{table.source}: no finished or diverged runs (status 'ok' or 'diverged')")
    notes = {"loss": f"column {loss_col!r}", "lr": res.provenance["lr"], "width": res.provenance["width"],
             "parametrization": f"column {par_col!r}" if par_col in frame.columns else "none (one group)",
             "initial_loss": l0_src, "n_excluded": int((~keep).sum()), "n_failed": int(out["failed"].sum())}
    return out, notes


def _parabola(x: np.ndarray, y: np.ndarray) -> tuple[float, bool, np.ndarray]:
    """Vertex of a least-squares parabola (x, ok, fitted values); ok is False unless convex with vertex in range."""
    coef = np.polyfit(x, y, 2)
    fitted = np.polyval(coef, x)
    if not coef[0] > 0:
        return float("nan"), False, fitted
    v = -coef[1] / (2 * coef[0])
    return float(v), bool(x.min() <= v <= x.max()), fitted


def _window(loss: np.ndarray, bad: np.ndarray, half_window: int) -> tuple[int, np.ndarray]:
    """The grid argmin of one width's curve and the unfailed points within ``half_window`` of it."""
    i = int(np.argmin(loss))
    lo, hi = max(0, i - half_window), min(len(loss), i + half_window + 1)
    return i, np.arange(lo, hi)[~bad[lo:hi]]


def _optimum(log_lr: np.ndarray, loss: np.ndarray, bad: np.ndarray, half_window: int) -> tuple[float, str]:
    """log2 eta* from one width's curve (sorted by lr) and how it was found."""
    i, use = _window(loss, bad, half_window)
    if use.size >= 3:
        v, ok, _ = _parabola(log_lr[use], loss[use])
        if ok:
            return v, "parabola"
    edge = i == 0 or i == len(loss) - 1
    return float(log_lr[i]), "edge" if edge else "argmin"


def _curves(runs: pd.DataFrame) -> pd.DataFrame:
    g = runs.groupby(["param", "width", "lr"], sort=True)
    return g.agg(loss=("L", "mean"), n_seeds=("L", "size"), n_failed=("failed", "sum"), L0=("L0", "mean")).reset_index()


def _width_bootstrap(sub: pd.DataFrame, curve: pd.DataFrame, half_window: int, n_boot: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """(n_boot,) bootstrap log2 optima for one width, and the method used."""
    log_lr = np.log2(curve["lr"].to_numpy())
    bad = curve["n_failed"].to_numpy() > 0
    groups = [g["L"].to_numpy() for _, g in sub.groupby("lr", sort=True)]
    if n_boot == 0:
        return np.empty(0), "none"
    grid = sub.pivot_table(index="seed", columns="lr", values="L", aggfunc="size")
    if len(grid) >= 2 and (grid.fillna(0).to_numpy() == 1).all():  # every seed at every lr, once
        curves = sub.pivot(index="seed", columns="lr", values="L").sort_index(axis=1).to_numpy()  # (seeds, lrs)
        weights = resample_counts(len(curves), n_boot, rng) / len(curves)  # (n_boot, seeds)
        return np.array([_optimum(log_lr, m, bad, half_window)[0] for m in weights @ curves]), "whole seeds"
    if min(len(g) for g in groups) >= 2:
        picks = stratified_indices([len(g) for g in groups], n_boot, rng)
        means = np.stack([g[i].mean(axis=1) for g, i in zip(groups, picks)], axis=1)  # (n_boot, n_lrs)
        return np.array([_optimum(log_lr, m, bad, half_window)[0] for m in means]), "seeds"
    loss = curve["loss"].to_numpy()
    _, use = _window(loss, bad, half_window)
    if use.size < 4:
        return np.full(n_boot, _optimum(log_lr, loss, bad, half_window)[0]), "none (one seed, <4 window points)"
    _, _, fitted = _parabola(log_lr[use], loss[use])
    resid = loss[use] - fitted
    resid = (resid - resid.mean()) * np.sqrt(use.size / (use.size - 3))
    out = np.empty(n_boot)
    for b, pick in enumerate(resample_indices(use.size, n_boot, rng)):
        y = loss.copy()
        y[use] = fitted + resid[pick]
        out[b] = _optimum(log_lr, y, bad, half_window)[0]
    return out, "residuals"


def sensitivity(loss: np.ndarray, initial_loss: float) -> float:
    """Wortsman et al. 2023: mean over the LR grid of min(L, L0) - min L."""
    return float(np.mean(np.minimum(loss, initial_loss)) - np.min(loss))


def _slope(log_w: np.ndarray, log_eta: np.ndarray, level: float) -> dict:
    n = log_w.size
    X = np.c_[np.ones(n), log_w]
    coef, *_ = np.linalg.lstsq(X, log_eta, rcond=None)
    out = {"intercept": float(coef[0]), "slope": float(coef[1]), "t_interval": None}
    if n >= 3 and np.ptp(log_w) > 0:
        resid = log_eta - X @ coef
        se = np.sqrt(resid @ resid / (n - 2) / np.sum((log_w - log_w.mean()) ** 2))
        t = t_quantile(level, n - 2)
        out["t_interval"] = [float(coef[1] - t * se), float(coef[1] + t * se)]
    return out


def verdict(interval, margin: float) -> str:
    """An equivalence test on the slope's interval: inside [-margin, margin] the LR transfers; entirely outside
    it the LR does not; otherwise this sweep cannot tell (an interval that merely contains 0 proves nothing)."""
    lo, hi = interval
    if -margin <= lo and hi <= margin:
        return TRANSFERS
    if hi < -margin or lo > margin:
        return "does not transfer"
    return "cannot tell from this sweep"


def _one_param(runs: pd.DataFrame, curves: pd.DataFrame, *, half_window: int, n_boot: int, seed: int,
               level: float, target_width: float | None, margin: float) -> dict:
    rng = np.random.default_rng(seed)
    widths, boots = [], []
    for w, cw in curves.groupby("width", sort=True):
        sub = runs[runs["width"] == w]
        log_lr, loss = np.log2(cw["lr"].to_numpy()), cw["loss"].to_numpy()
        bad = cw["n_failed"].to_numpy() > 0
        v, how = _optimum(log_lr, loss, bad, half_window)
        bt, method = _width_bootstrap(sub, cw, half_window, n_boot, rng)
        boots.append(bt)
        l0 = float(cw["L0"].mean())
        row = {"width": float(w), "lr_opt": float(2.0**v), "how": how, "bootstrap": method,
               "lr_argmin": float(cw["lr"].iloc[int(np.argmin(loss))]), "best_loss": float(loss.min()),
               "sensitivity": sensitivity(loss, l0), "initial_loss": l0, "n_lrs": len(cw),
               "n_failed": int(cw["n_failed"].sum()), "n_seeds": int(cw["n_seeds"].max())}
        if bt.size:
            row["lr_opt_lower"], row["lr_opt_upper"] = (float(2.0**x) for x in percentile_interval(bt, level))
        widths.append(row)
    out = {"widths": widths, "mean_sensitivity": float(np.mean([r["sensitivity"] for r in widths]))}
    if len(widths) < 2:
        out["note"] = "one width only: no slope"
        return out
    log_w = np.log2([r["width"] for r in widths])
    log_eta = np.log2([r["lr_opt"] for r in widths])
    fit = _slope(log_w, log_eta, level)
    out.update(fit)
    intervals = [] if fit["t_interval"] is None else [fit["t_interval"]]
    if n_boot:
        B = np.stack(boots, axis=1)  # (n_boot, n_widths)
        X = np.c_[np.ones(log_w.size), log_w]
        coefs = np.linalg.lstsq(X, B.T, rcond=None)[0]  # (2, n_boot)
        out["bootstrap_interval"] = list(percentile_interval(coefs[1], level))
        intervals.append(out["bootstrap_interval"])
    if intervals:
        out["slope_interval"] = [min(i[0] for i in intervals), max(i[1] for i in intervals)]
        out["verdict"] = verdict(out["slope_interval"], margin)
        out["transfers"] = out["verdict"] == TRANSFERS
    if target_width is not None:
        lt = np.log2(target_width)
        pred = {"width": float(target_width), "lr_opt": float(2.0 ** (fit["intercept"] + fit["slope"] * lt))}
        if n_boot:
            preds = 2.0 ** (coefs[0] + coefs[1] * lt)
            pred["lower"], pred["upper"] = percentile_interval(preds, level)
        pred["extrapolated"] = bool(not log_w.min() <= lt <= log_w.max())
        out["target"] = pred
    return out


def lr_transfer(
    data, *, mapping: Mapping[str, str] | None = None, target: str | None = None, where: str | None = None,
    target_width: float | None = None, initial_loss: float | None = None, half_window: int = 2,
    bootstrap: int = 1000, seed: int = 0, level: float = 0.95, margin: float = EQUIVALENCE_MARGIN,
) -> LRTransferResult:
    """LR-transfer analysis per parametrization; see the module docstring. ``target`` names the loss column."""
    if half_window < 1:
        raise RunDataError(f"half_window must be >= 1 grid point, got {half_window}")
    tail_percent(level)
    if target_width is not None and not target_width > 0:
        raise RunDataError(f"target_width must be > 0, got {target_width}")
    if not (np.isfinite(margin) and margin > 0):
        raise RunDataError(f"margin must be > 0 (log2 lr per doubling of width), got {margin}")
    table, mapping = filtered_rows(data, where, mapping, target)
    runs, notes = _runs_frame(table, mapping, initial_loss)
    curves = _curves(runs)
    per = {}
    for k, (p, sub) in enumerate(runs.groupby("param", sort=True)):
        per[str(p)] = _one_param(sub, curves[curves["param"] == p], half_window=half_window, n_boot=bootstrap,
                                 seed=seed + k, level=level, target_width=target_width, margin=margin)
    return LRTransferResult(
        params=per, curves=curves.to_dict("records"), columns=notes,
        options={"half_window": half_window, "bootstrap": bootstrap, "seed": seed, "level": level,
                 "target_width": target_width, "where": where, "margin": margin},
        source=table.source,
    )
