"""Loss curves under learning-rate schedules (the lr-annealing law; ``scalefit.planning.lr_annealing``).

- ``scalefit fit lr-annealing CURVES`` (a registered fit procedure): CURVES is a curve log (run_id, step,
  lr, loss, one row per logged step; see ``scalefit.planning.curves`` for sparse LR logs) or a folder of
  ``scalefit train`` runs. Options: ``--opt lam=0.999``, ``--opt fit_lambda=true``, ``--opt skip_warmup=false``.
- ``scalefit predict curve.json --schedule wsd --steps N --peak-lr LR [--decay-frac F]`` (or
  ``--schedule-csv FILE``): the whole predicted curve and the final loss (``predict_schedule`` below).
- ``scalefit plan curve.json --compare-schedules --steps N --peak-lr LR``: schedules ranked by predicted
  final loss, with the best WSD decay fraction (``plan_schedules`` below).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import typer

from scalefit.cli.common import echo_json, write_csv_atomic
from scalefit.cli.fit_cmd import FitRequest, register_procedure
from scalefit.cli.options import OptionError, opt_flag, procedure_options

_OPTIONS = {"lam", "fit_lambda", "skip_warmup"}
@register_procedure("lr-annealing")
def fit_lr_annealing(req: FitRequest):
    """`scalefit fit lr-annealing CURVES`: the law's areas S1, S2 are computed from each run's schedule first."""
    from scalefit.fitting import fit
    from scalefit.planning.lr_annealing import POINT

    opts = procedure_options(req, _OPTIONS, what="loss curves")
    lam = opts.get("lam", 0.999)
    if not isinstance(lam, float):
        raise OptionError(f"--opt lam={lam}: give the annealing decay factor as a number in (0, 1), e.g. lam=0.999")
    return fit(
        "lr-annealing", req.runs, lam=lam, fit_lambda=opt_flag(opts, "fit_lambda", False),
        skip_warmup=opt_flag(opts, "skip_warmup", True),
        bootstrap_by=req.bootstrap_by or POINT, mapping=req.mapping, target=req.target, where=req.where,
        group_by=req.group_by, bootstrap=req.bootstrap, seed=req.seed, loss=req.loss, delta=req.delta,
        space=req.space,
    )


def schedule_from_options(
    schedule: str | None, schedule_csv: Path | None, steps: int | None, peak_lr: float | None,
    warmup_frac: float, decay_frac: float, min_lr_ratio: float,
) -> tuple[str, np.ndarray]:
    """(label, LR per update) from --schedule NAME with --steps/--peak-lr, or from --schedule-csv FILE."""
    from scalefit.planning.curves import lr_from_csv, trainer_schedule

    if schedule_csv is not None:
        if schedule is not None:
            raise OptionError("use either --schedule NAME or --schedule-csv FILE, not both")
        return Path(schedule_csv).name, lr_from_csv(schedule_csv)
    if steps is None or peak_lr is None:
        raise OptionError(f"--schedule {schedule} needs --steps N (updates) and --peak-lr LR")
    lr = trainer_schedule(schedule, steps, peak_lr, warmup_frac=warmup_frac, decay_frac=decay_frac,
                          min_lr_ratio=min_lr_ratio)
    decay = f", decay {decay_frac:g}" if schedule == "wsd" else ""
    label = f"{schedule} ({steps} steps, peak lr {peak_lr:g}{decay})"
    return label, lr


def _notes(caught) -> list[str]:
    notes = sorted({str(w.message) for w in caught})
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    return notes


def predict_schedule(fit_json: Path, *, label: str, lr: np.ndarray, output: Path | None, group: str | None,
                     level: float, as_json: bool, points: int = 16) -> None:
    """Print (and with ``output`` save) the predicted curve of one schedule and its final loss."""
    from scalefit.fitting import FitResult
    from scalefit.planning.lr_annealing import predict_curve

    fit = FitResult.load(fit_json)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        curve = predict_curve(fit, lr, level=level, group=group)
    notes = _notes(caught)
    final = curve.iloc[-1]
    has_ci = "L_lower" in curve.columns
    if output is not None:
        write_csv_atomic(output, curve)
    if as_json:
        echo_json({"schedule": label, "final": final.replace({np.nan: None}).to_dict(), "notes": notes,
                   **({} if output else {"curve": curve.replace({np.nan: None}).to_dict(orient="records")})})
        return
    valid = curve[curve["L_pred"].notna()]
    picks = np.unique(np.round(np.geomspace(valid["step"].iloc[0], len(curve), points)).astype(int))
    shown = curve[curve["step"].isin(picks)]
    typer.echo(f"predicted loss curve: {label}; lambda = {fit.select(group).law_spec.options.get('lam')}")
    typer.echo(shown.to_string(index=False, float_format=lambda v: f"{v:.6g}"))
    ci = f" [{final['L_lower']:.4f}, {final['L_upper']:.4f}] ({100 * level:g}% bootstrap)" if has_ci else ""
    typer.echo(f"\nfinal loss after {len(curve)} updates: {final['L_pred']:.4f}{ci}")
    if output is not None:
        typer.echo(f"wrote {len(curve)} steps to {output}")


def plan_schedules(fit_json: Path, *, steps: int | None, peak_lr: float | None, decay_fracs: str | None,
                   warmup_frac: float, min_lr_ratio: float, schedule_csv: list[Path] | None, group: str | None,
                   level: float, as_json: bool) -> None:
    """Rank cosine, linear, constant and WSD (per decay fraction) by predicted final loss for one budget."""
    from scalefit.fitting import FitResult
    from scalefit.planning.curves import lr_from_csv
    from scalefit.planning.lr_annealing import compare_schedules

    if steps is None or peak_lr is None:
        raise OptionError("--compare-schedules needs --steps N (updates in the budget) and --peak-lr LR")
    kwargs = {}
    if decay_fracs:
        try:
            kwargs["decay_fracs"] = [float(v) for v in decay_fracs.split(",")]
        except ValueError:
            raise OptionError(f"--decay-fracs {decay_fracs!r}: give fractions like 0.1,0.2,0.3") from None
    extra = {Path(p).name: lr_from_csv(p) for p in schedule_csv or []}
    fit = FitResult.load(fit_json)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cmp = compare_schedules(fit, steps=steps, peak_lr=peak_lr, warmup_frac=warmup_frac,
                                min_lr_ratio=min_lr_ratio, extra=extra, level=level, group=group, **kwargs)
    notes = _notes(caught)
    if as_json:
        echo_json({"steps": steps, "peak_lr": peak_lr, "schedules": cmp.table.replace({np.nan: None}).to_dict(
            orient="records"), "best": cmp.best, "best_wsd": cmp.best_wsd, "notes": notes})
        return
    typer.echo(f"schedules for {steps} updates at peak lr {peak_lr:g} (warmup {warmup_frac:g}, min lr ratio "
               f"{min_lr_ratio:g}), by predicted final loss")
    typer.echo(cmp.table.to_string(index=False, float_format=lambda v: f"{v:.5g}", na_rep="-"))
    b = cmp.best
    typer.echo(f"\nbest: {b['schedule']}" + (f" (decay {b['decay_frac']:g})" if b["schedule"] == "wsd" else "")
               + f", final loss {b['L_final']:.4f}")
    if cmp.best_wsd is not None:
        w = cmp.best_wsd
        typer.echo(f"best WSD decay fraction: {w['decay_frac']:g} (final loss {w['L_final']:.4f})")
