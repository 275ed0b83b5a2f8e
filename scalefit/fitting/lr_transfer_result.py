"""The result of an LR-transfer analysis (:func:`scalefit.planning.lr_transfer.lr_transfer`): data, report, JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalefit import _schema as S  # the field checkers of every result file (S.expect_str, ...)
from scalefit._frozen import freeze_fields, plain_fields
from scalefit.errors import FitError
from scalefit.results import ResultFile

SCHEMA = "scalefit.lr-transfer/1"
_WIDTH = {"width": S.expect_number, "lr_opt": S.expect_number, "how": S.expect_str, "lr_argmin": S.expect_number,
          "best_loss": S.expect_number, "sensitivity": S.expect_number, "n_lrs": S.expect_int, "n_failed": S.expect_int,
          "n_seeds": S.expect_int}
_WIDTH_OPTIONAL = {"lr_opt_lower": S.expect_number, "lr_opt_upper": S.expect_number, "initial_loss": S.expect_number,
                   "bootstrap": S.expect_str}
_TARGET = {"width": S.expect_number, "lr_opt": S.expect_number, "extrapolated": S.expect_bool}
_PARAM = {"widths": S.list_of(S.fields_of(_WIDTH, _WIDTH_OPTIONAL)),
          "mean_sensitivity": S.expect_number}
_PARAM_OPTIONAL = {"slope": S.expect_number, "intercept": S.expect_number, "slope_interval": S.pair,
                   "bootstrap_interval": S.optional(S.pair), "t_interval": S.optional(S.pair),
                   "transfers": S.expect_bool, "verdict": S.expect_str,
                   "note": S.expect_str,
                   "target": S.fields_of(_TARGET, {"lower": S.expect_number, "upper": S.expect_number})}
_CURVE = {"param": S.expect_str, "width": S.expect_number, "lr": S.expect_number, "loss": S.expect_number,
          "n_failed": S.expect_int}
_COLUMNS = {"loss": S.expect_str, "lr": S.expect_str, "width": S.expect_str, "parametrization": S.expect_str,
            "initial_loss": S.expect_str, "n_excluded": S.expect_int, "n_failed": S.expect_int}
_OPTIONS = {"half_window": S.expect_int, "bootstrap": S.expect_int, "seed": S.expect_int, "level": S.expect_number,
            "target_width": S.optional(S.expect_number), "where": S.expect_filter}


@dataclass(frozen=True)
class LRTransferResult(ResultFile):
    """Per parametrization: optimum per width, slope of log2 eta* vs log2 width, sensitivity, target LR."""

    FILE_KIND = "LR-transfer result"
    FILE_HINT = "create it with `scalefit fit lr-transfer RUNS.csv --out {path}`"

    params: dict  # parametrization -> {"widths": [...], "slope", "intercept", "slope_interval", ...}
    curves: list  # one dict per (param, width, lr): mean loss over seeds, n_seeds, n_failed, L0
    columns: dict  # where each quantity came from, excluded and failed run counts
    options: dict  # half_window, bootstrap, seed, level, target_width, where
    source: str  # the run log

    def __post_init__(self) -> None:
        freeze_fields(self)  # results are immutable data

    def predict(self, width: Any) -> dict[str, np.ndarray]:
        """Optimal learning rate at ``width`` per parametrization, from the fitted log2 lr* vs log2 width line."""
        w = np.atleast_1d(np.asarray(width, dtype=float))
        if not (np.isfinite(w).all() and (w > 0).all()):
            raise FitError(f"width must be finite and > 0, got {width!r}")
        lines = {name: p for name, p in self.params.items() if p.get("slope") is not None}
        if not lines:
            raise FitError("no parametrization has a fitted lr*-vs-width line (each needs at least 2 widths)")
        fitted = [float(x["width"]) for p in lines.values() for x in p["widths"]]
        if fitted:
            from scalefit.fitting.extrapolation import warn_beyond

            warn_beyond({"width": w}, {"width": (min(fitted), max(fitted))}, "lr*")
        return {name: 2.0 ** (p["intercept"] + p["slope"] * np.log2(w)) for name, p in lines.items()}

    def predict_interval(self, width: Any, *, level: float | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Prediction interval of lr* at ``width`` per parametrization with 3+ fitted widths: the ordinary
        least-squares prediction interval of the log2 lr* vs log2 width line (Student t with n − 2 degrees of
        freedom: the line's uncertainty and the scatter of each width's optimum about it), at ``level`` (default:
        the fit's). Where a new width's optimum would land, so its kind is "prediction"."""
        from scalefit.fitting.covariance import t_quantile

        level = float(self.options.get("level", 0.95)) if level is None else level
        w = np.log2(np.atleast_1d(np.asarray(width, dtype=float)))
        out = {}
        for name, p in self.params.items():
            if p.get("slope") is None or len(p["widths"]) < 3:
                continue
            x = np.log2([r["width"] for r in p["widths"]])
            y = np.log2([r["lr_opt"] for r in p["widths"]])
            fit = p["intercept"] + p["slope"] * x
            n, sxx = x.size, float(np.sum((x - x.mean()) ** 2))
            if sxx <= 0:
                continue
            s2 = float(np.sum((y - fit) ** 2)) / (n - 2)
            half = t_quantile(level, n - 2) * np.sqrt(s2 * (1 + 1 / n + (w - x.mean()) ** 2 / sxx))
            centre = p["intercept"] + p["slope"] * w
            out[name] = (2.0 ** (centre - half), 2.0 ** (centre + half))
        return out

    def slope(self, param: str) -> float:
        return float(self.params[param]["slope"])

    def slope_interval(self, param: str) -> tuple[float, float]:
        lo, hi = self.params[param]["slope_interval"]
        return float(lo), float(hi)

    def report(self) -> str:
        o, c = self.options, self.columns
        pct = f"{100 * o['level']:g}%"
        lines = [
            f"LR transfer from {self.source}",
            f"columns  loss ← {c['loss']}, lr ← {c['lr']}, width ← {c['width']}, parametrization ← "
            f"{c['parametrization']}; initial loss L0 = {c['initial_loss']}",
            f"runs     {c['n_failed']} failed (diverged: loss = L0); "
            f"{c['n_excluded']} left out (status not ok/diverged)",
            f"optimum  parabola in log2 lr over the grid minimum ± {o['half_window']} points; "
            f"{o['bootstrap']} bootstrap resamples; intervals {pct}",
        ]
        for name, p in self.params.items():
            lines += ["", f"== {name} ==",
                      f"{'width':>8} {'lr*':>10} {'interval':>23} {'how':>8} {'argmin lr':>10} {'best loss':>9} "
                      f"{'sensitivity':>11} {'lrs':>4} {'failed':>6} {'seeds':>5}"]
            for w in p["widths"]:
                iv = f"[{w['lr_opt_lower']:.3g}, {w['lr_opt_upper']:.3g}]" if "lr_opt_lower" in w else "-"
                lines.append(f"{w['width']:>8g} {w['lr_opt']:>10.4g} {iv:>23} {w['how']:>8} {w['lr_argmin']:>10.4g} "
                             f"{w['best_loss']:>9.4f} {w['sensitivity']:>11.4f} {w['n_lrs']:>4d} {w['n_failed']:>6d} "
                             f"{w['n_seeds']:>5d}")
            if any(w["how"] == "edge" for w in p["widths"]):
                lines.append("note: an optimum at the edge of the swept LRs may lie beyond it; widen the sweep")
            lines.append(f"LR sensitivity (Wortsman et al. 2023), mean over widths: {p['mean_sensitivity']:.4f} nats")
            if "slope" not in p:
                lines.append(p.get("note", "no slope"))
                continue
            line = f"slope of log2 lr* vs log2 width: {p['slope']:+.3f}"
            if "slope_interval" in p:
                lo, hi = p["slope_interval"]
                line += f"  {pct} interval [{lo:+.3f}, {hi:+.3f}]"
                parts = []
                if p.get("bootstrap_interval"):
                    parts.append("bootstrap [{:+.3f}, {:+.3f}]".format(*p["bootstrap_interval"]))
                if p.get("t_interval"):
                    parts.append("regression t [{:+.3f}, {:+.3f}]".format(*p["t_interval"]))
                line += f" (wider of {', '.join(parts)})" if len(parts) > 1 else ""
                margin = self.options.get("margin", 0.25)
                verdict = p.get("verdict") or ("transfers" if p["transfers"] else "cannot tell from this sweep")
                line += (f"\n  verdict: {verdict} (equivalence test: the LR transfers when the interval lies within "
                         f"+-{margin:g}, does not when it excludes that margin)")
            lines.append(line)
            if "target" in p:
                t = p["target"]
                iv = f" [{t['lower']:.4g}, {t['upper']:.4g}]" if "lower" in t else ""
                ext = " (extrapolated beyond the swept widths)" if t["extrapolated"] else ""
                lines.append(f"predicted lr* at width {t['width']:g}: {t['lr_opt']:.4g}{iv}{ext}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"schema": SCHEMA, **plain_fields(self)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LRTransferResult:
        """An LRTransferResult from :meth:`to_dict`'s output, every field checked (FitFileError naming the field)."""
        f = S.expect_result(d, (SCHEMA,), "a scalefit LR-transfer result",
                            {"params": S.expect_mapping, "curves": S.expect_list, "columns": S.expect_mapping,
                             "options": S.expect_mapping, "source": S.expect_str})
        return cls(
            params=S.mapping_of(S.fields_of(_PARAM, _PARAM_OPTIONAL))(f["params"], "params"),
            curves=S.list_of(S.fields_of(_CURVE))(f["curves"], "curves"),
            columns=S.expect_fields(f["columns"], "columns", _COLUMNS),
            options=S.expect_fields(f["options"], "options", _OPTIONS, {"margin": S.expect_finite_number}),
            source=f["source"],
        )

