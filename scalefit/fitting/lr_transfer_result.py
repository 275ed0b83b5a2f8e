"""The result of an LR-transfer analysis (:func:`scalefit.fitting.lr_transfer.lr_transfer`): data, report, JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from scalefit.errors import FitFileError

SCHEMA = "scalefit.lr-transfer/1"


@dataclass(frozen=True)
class LRTransferResult:
    """Per parametrization: optimum per width, slope of log2 eta* vs log2 width, sensitivity, target LR."""

    params: dict  # parametrization -> {"widths": [...], "slope", "intercept", "slope_interval", ...}
    curves: list  # one dict per (param, width, lr): mean loss over seeds, n_seeds, n_failed, L0
    columns: dict  # where each quantity came from, excluded and failed run counts
    options: dict  # half_window, bootstrap, seed, level, target_width, where
    source: str  # the run log

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
                verdict = ("contains 0: the optimal LR transfers across these widths" if p["transfers"] else
                           "excludes 0: the optimal LR shifts with width")
                line += f"\n  the interval {verdict}"
            lines.append(line)
            if "target" in p:
                t = p["target"]
                iv = f" [{t['lower']:.4g}, {t['upper']:.4g}]" if "lower" in t else ""
                ext = " (extrapolated beyond the swept widths)" if t["extrapolated"] else ""
                lines.append(f"predicted lr* at width {t['width']:g}: {t['lr_opt']:.4g}{iv}{ext}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"schema": SCHEMA, **asdict(self)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LRTransferResult:
        if d.get("schema") != SCHEMA:
            raise FitFileError(f"not a scalefit LR-transfer result (schema {d.get('schema')!r}, expected {SCHEMA!r})")
        try:
            return cls(**{k: v for k, v in d.items() if k != "schema"})
        except TypeError as exc:
            raise FitFileError(f"LR-transfer file does not match this scalefit version: {exc}") from None

    def save(self, path: str | Path) -> Path:
        from scalefit._io import json_default, write_text_atomic

        return write_text_atomic(path, json.dumps(self.to_dict(), indent=2, default=json_default) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> LRTransferResult:
        p = Path(path)
        if not p.exists():
            raise FitFileError(f"{p}: not found; create it with `scalefit fit lr-transfer RUNS.csv --out {p}`")
        try:
            return cls.from_dict(json.loads(p.read_text()))
        except json.JSONDecodeError as exc:
            raise FitFileError(f"{p}: not valid JSON: {exc}") from None
