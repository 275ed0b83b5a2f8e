"""Recommendations and the report of a hyperparameter fit (:class:`scalefit.planning.hparams.HparamFit`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scalefit.errors import FitError
from scalefit.fitting.resample import tail_percent
from scalefit.planning.inputs import positive

if TYPE_CHECKING:
    from scalefit.fitting import FitResult
    from scalefit.planning.hparams import HparamFit


def _value(fit: FitResult, inputs: dict, level: float) -> dict:
    out = {"value": float(fit.predict(inputs)[0])}
    if fit.bootstrap:
        lo, hi = fit.predict_interval(inputs, level=level, interval="mean")
        out["lower"], out["upper"] = float(lo[0]), float(hi[0])
    return out


def _derived(fit: FitResult, name: str, level: float, **extra: float) -> dict:
    out = {"value": float(fit.derived(name, warn=False, **extra))}
    if fit.bootstrap:
        lo, hi = fit.derived_interval(name, level=level, **extra)
        out["lower"], out["upper"] = float(lo), float(hi)
    return out


def seq_len_number(hf: HparamFit) -> float | None:
    """The fit's tokens-per-sequence when it was a number (so batches can be shown in sequences)."""
    try:
        return float(hf.options.get("seq_len"))
    except (TypeError, ValueError):
        return None


def recommend(hf: HparamFit, n_params: float, n_tokens: float, *, level: float = 0.95, lr: float | None = None,
              batch: float | None = None) -> dict:
    """Recommended lr and batch at (N, D) with intervals; the surface's loss penalty of a given (lr, batch).

    ``batch`` is in the fit's batch unit (tokens when it was fitted with ``seq_len``).
    """
    N = positive(n_params, "the model size N in parameters", "--n-params", "1e9")
    D = positive(n_tokens, "the training tokens D", "--n-tokens", "2e10")
    lr = None if lr is None else positive(lr, "the learning rate", "--lr", "3e-4")
    batch = None if batch is None else positive(batch, "the batch size", "--batch-size", "1024")
    tail_percent(level)
    C = 6.0 * N * D
    out: dict = {"N": N, "D": D, "C": C, "level": level, "batch_unit": hf.data["provenance"].get("batch_unit")}
    out["lr"] = _value(hf.fits["lr"], {"N": N, "D": D}, level)
    out["B"] = _value(hf.fits["B"], {"D": D}, level)
    out["lr_C"] = _value(hf.fits["lr_C"], {"C": C}, level)
    out["B_C"] = _value(hf.fits["B_C"], {"C": C}, level)
    seq = seq_len_number(hf)
    if seq:
        out["B_sequences"] = {k: v / seq for k, v in out["B"].items()}
    surface = hf.fits.get("surface")
    if surface is not None:
        out["surface"] = {
            "lr_opt": _derived(surface, "lr_opt", level, N=N, D=D),
            "B_opt": _derived(surface, "B_opt", level, D=D),
            "loss_floor": _derived(surface, "loss_floor", level, N=N, D=D),
        }
    if lr is not None or batch is not None:
        if surface is None:
            raise FitError("this fit has no loss surface, so it cannot price an (lr, batch) choice; "
                           "refit with `scalefit fit hparams RUNS.csv --opt surface=true`")
        q_lr = float(lr) if lr is not None else out["lr"]["value"]
        q_b = float(batch) if batch is not None else out["B"]["value"]
        pen = _derived(surface, "penalty", level, lr=q_lr, B=q_b, N=N, D=D)
        floor = out["surface"]["loss_floor"]["value"]
        out["penalty"] = {"lr": q_lr, "B": q_b, "nats": pen, "relative": pen["value"] / floor}
    return out


def _fmt(d: dict, unit: str = "") -> str:
    s = f"{d['value']:.4g}{unit}"
    return f"{s} [{d['lower']:.4g}, {d['upper']:.4g}]" if "lower" in d else s


def format_recommendation(rec: dict) -> str:
    pct = f"{100 * rec['level']:g}%"
    lines = [f"N = {rec['N']:.4g} parameters, D = {rec['D']:.4g} tokens (C = 6ND = {rec['C']:.4g} FLOPs); "
             f"intervals {pct} bootstrap where available",
             f"  learning rate   {_fmt(rec['lr'])}   (Step Law: N and D)",
             f"  batch size      {_fmt(rec['B'])}   ({rec['batch_unit']})"]
    if "B_sequences" in rec:
        lines.append(f"                  {_fmt(rec['B_sequences'])} sequences")
    lines.append(f"  compute form    lr {_fmt(rec['lr_C'])}, batch {_fmt(rec['B_C'])}   (DeepSeek: C only)")
    if "surface" in rec:
        s = rec["surface"]
        lines.append(f"  loss valley     lr* {_fmt(s['lr_opt'])}, B* {_fmt(s['B_opt'])}, "
                     f"best loss {_fmt(s['loss_floor'])}")
    if "penalty" in rec:
        p = rec["penalty"]
        lines.append(f"  at lr = {p['lr']:.4g}, batch = {p['B']:.4g}: predicted loss penalty {_fmt(p['nats'])} nats "
                     f"({100 * p['relative']:.3g}% of the best loss)")
    return "\n".join(lines)


def _law_line(fit: FitResult, name: str, level: float) -> str:
    iv = fit.intervals(level=level)
    parts = []
    for k, v in fit.params.items():
        parts.append(f"{k} = {v:.4g}" + (f" [{iv[k][0]:.4g}, {iv[k][1]:.4g}]" if k in iv else ""))
    return f"  {name:<10}{fit.law_spec.equation}\n            " + "; ".join(parts)


def format_hparams(hf: HparamFit, *, level: float = 0.95) -> str:
    o, d = hf.options, hf.data
    prov = d["provenance"]
    lines = [
        f"optimal hyperparameters from {d['source']}: {len(hf.cells)} (N, D) cells, {d['n_rows']} runs",
        "columns  " + ", ".join(f"{s} ← {src}" for s, src in prov.items() if s != "batch_unit"),
        f"batch    {prov['batch_unit']}",
        f"fitted on {'the near-optimal band' if o['fit_on'] == 'band' else 'the refined cell optima'}: "
        f"{d['n_fitted']} rows (band = runs within {100 * o['tol']:g}% of their cell's best loss); "
        "least squares in log space" + (f", {o['bootstrap']} bootstrap resamples" if o["bootstrap"] else ""),
        "",
        f"{'N':>10} {'D':>10} {'runs':>5} {'best loss':>9} {'lr argmin':>10} {'B argmin':>10} {'lr opt':>10} "
        f"{'B opt':>10} {'band':>5} {'band lr range':>21} {'band B range':>21}",
    ]
    for c in hf.cells:
        lines.append(
            f"{c['N']:>10.4g} {c['D']:>10.4g} {c['n_runs']:>5d} {c['loss_min']:>9.4f} {c['lr_argmin']:>10.4g} "
            f"{c['B_argmin']:>10.4g} {c['lr_opt']:>10.4g} {c['B_opt']:>10.4g} {c['n_band']:>5d} "
            f"{c['band_lr_min']:>10.3g}-{c['band_lr_max']:<10.3g} {c['band_B_min']:>10.3g}-{c['band_B_max']:<10.3g}"
        )
    lines += ["", "laws"]
    for key, name in (("lr", "Step Law"), ("B", ""), ("lr_C", "compute"), ("B_C", "")):
        lines.append(_law_line(hf.fits[key], name, level))
    surface = hf.fits.get("surface")
    if surface is not None:
        st = surface.stats
        ref = surface.law_options
        lines += ["", f"loss valley (lr-bsz) on {st['n']} runs within {100 * o['surface_tol']:g}% of their cell's "
                      f"best: RMSE(log) = {st['rmse_log']:.3g}; N_ref = {ref['n_ref']:.3g}, D_ref = {ref['d_ref']:.3g}",
                  _law_line(surface, "lr-bsz", level)]
    lines += ["", f"check: the run nearest the recommended (lr, B) in each cell is, on average, "
                  f"{100 * hf.mean_gap():.3f}% above the cell's best loss (in-sample)"]
    if any("gap_loo" in r for r in hf.check):
        worst = max(r["gap_loo"] for r in hf.check)
        lines.append(f"       {100 * hf.mean_gap(loo=True):.3f}% with each cell left out of the fit "
                     f"(worst cell {100 * worst:.3f}%)")
    return "\n".join(lines)

