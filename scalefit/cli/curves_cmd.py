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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from scalefit.cli.common import echo, echo_json, write_csv_atomic
from scalefit.cli.fit_cmd import Procedure, register_procedure
from scalefit.cli.option_groups import option
from scalefit.cli.options import OptionError, check_group, opt_flag, procedure_options

if TYPE_CHECKING:  # numpy loads when a curve is predicted, not with the CLI
    import numpy as np

_OPTIONS = {"lam", "fit_lambda", "skip_warmup"}


@register_procedure("lr-annealing")
def fit_lr_annealing(call: Procedure):
    """`scalefit fit lr-annealing CURVES`: the law's areas S1, S2 are computed from each run's schedule first."""
    from scalefit.fitting import fit
    from scalefit.planning.lr_annealing import POINT

    fitting = call.fitting
    opts = procedure_options(call, _OPTIONS, what="loss curves")
    lam = opts.get("lam", 0.999)
    if not isinstance(lam, float):
        raise OptionError(f"--opt lam={lam}: give the annealing decay factor as a number in (0, 1), e.g. lam=0.999")
    return fit(
        "lr-annealing", call.runs, lam=lam, fit_lambda=opt_flag(opts, "fit_lambda", False),
        skip_warmup=opt_flag(opts, "skip_warmup", True),
        bootstrap_by=fitting.bootstrap_by or POINT, map=fitting.mapping, target=fitting.target, where=fitting.where,
        group_by=fitting.group_by, bootstrap=fitting.bootstrap, seed=fitting.seed, loss=fitting.loss,
        delta=fitting.delta, space=fitting.space,
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
        echo(f"note: {note}", err=True)
    return notes


def predict_schedule(fit, *, label: str, lr: np.ndarray, out: Path | None, group: str | None,
                     level: float, as_json: bool, points: int = 16) -> None:
    """Print (and with ``out`` save) the predicted curve of one schedule from an lr-annealing fit (its member
    ``group`` of a grouped fit) and its final loss."""
    import numpy as np

    from scalefit.fitting.fit_set import member
    from scalefit.planning.lr_annealing import predict_curve

    check_group(fit, group)
    fit = member(fit, group)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        curve = predict_curve(fit, lr, level=level)
    notes = _notes(caught)
    final = curve.iloc[-1]
    has_ci = "L_lower" in curve.columns
    if out is not None:
        write_csv_atomic(out, curve)
    if as_json:
        echo_json({"schedule": label, "final": final.replace({np.nan: None}).to_dict(), "notes": notes,
                   **({} if out else {"curve": curve.replace({np.nan: None}).to_dict(orient="records")})})
        return
    valid = curve[curve["L_pred"].notna()]
    picks = np.unique(np.round(np.geomspace(valid["step"].iloc[0], len(curve), points)).astype(int))
    shown = curve[curve["step"].isin(picks)]
    echo(f"predicted loss curve: {label}; lambda = {fit.law_spec.options.get('lam')}")
    echo(shown.to_string(index=False, float_format=lambda v: f"{v:.6g}"))
    ci = f" [{final['L_lower']:.4f}, {final['L_upper']:.4f}] ({100 * level:g}% bootstrap)" if has_ci else ""
    echo(f"\nfinal loss after {len(curve)} updates: {final['L_pred']:.4f}{ci}")
    if out is not None:
        echo(f"wrote {len(curve)} steps to {out}")


@dataclass(frozen=True)
class ScheduleOptions:
    """lr-annealing fits: the budget `scalefit plan` ranks LR schedules for."""

    panel = "lr-annealing fits"

    compare_schedules: bool = option(False, "--compare-schedules", help="lr-annealing fits: rank LR schedules (and "
                                     "WSD decay fractions) by predicted final loss (what plan does for them).")
    steps: int = option(None, "--steps", help="lr-annealing fits: updates in the budget.")
    peak_lr: float = option(None, "--peak-lr", help="lr-annealing fits: peak learning rate.")
    decay_fracs: str = option(None, "--decay-fracs", metavar="FRACTIONS", help="lr-annealing fits: WSD decay "
                              "fractions to try (default 0.05,0.1,...,0.6).")
    warmup_frac: float = option(0.05, "--warmup-frac", help="lr-annealing fits: warmup fraction.")
    min_lr_ratio: float = option(0.1, "--min-lr-ratio", help="lr-annealing fits: final LR / peak LR.")
    schedule_csv: list[Path] = option(None, "--schedule-csv", help="lr-annealing fits: also a custom schedule "
                                      "(CSV of step,lr for every update), repeatable.")


def _compare(fit, opts: ScheduleOptions, level: float) -> tuple:
    from scalefit.planning.curves import lr_from_csv
    from scalefit.planning.lr_annealing import compare_schedules

    kwargs = {}
    if opts.decay_fracs:
        try:
            kwargs["decay_fracs"] = [float(v) for v in opts.decay_fracs.split(",")]
        except ValueError:
            raise OptionError(f"--decay-fracs {opts.decay_fracs!r}: give fractions like 0.1,0.2,0.3") from None
    extra = {Path(p).name: lr_from_csv(p) for p in opts.schedule_csv or []}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cmp = compare_schedules(fit, steps=opts.steps, peak_lr=opts.peak_lr, warmup_frac=opts.warmup_frac,
                                min_lr_ratio=opts.min_lr_ratio, extra=extra, level=level, **kwargs)
    return cmp, _notes(caught)


def _cmp_json(cmp, notes: list[str]) -> dict:
    import numpy as np

    return {"schedules": cmp.table.replace({np.nan: None}).to_dict(orient="records"), "best": cmp.best,
            "best_wsd": cmp.best_wsd, "notes": notes}


def _echo_cmp(cmp) -> None:
    echo(cmp.table.to_string(index=False, float_format=lambda v: f"{v:.5g}", na_rep="-"))
    b = cmp.best
    echo(f"\nbest: {b['schedule']}" + (f" (decay {b['decay_frac']:g})" if b["schedule"] == "wsd" else "")
               + f", final loss {b['L_final']:.4f}")
    if cmp.best_wsd is not None:
        w = cmp.best_wsd
        echo(f"best WSD decay fraction: {w['decay_frac']:g} (final loss {w['L_final']:.4f})")


def plan_schedules(fit, opts: ScheduleOptions, *, group: str | None, level: float, as_json: bool) -> None:
    """Rank cosine, linear, constant and WSD (per decay fraction) by predicted final loss for one budget;
    every group of a grouped fit unless ``group`` picks one."""
    if opts.steps is None or opts.peak_lr is None:
        raise OptionError("plan of an lr-annealing fit needs --steps N (updates in the budget) and --peak-lr LR")
    from scalefit.fitting.fit_set import member

    check_group(fit, group)
    every = hasattr(fit, "by") and group is None  # every member of a FitSet
    results = {g: _compare(member(fit, g), opts, level) for g in (fit if every else [group])}
    if as_json:
        body = ({"group_by": fit.by, "groups": {g: _cmp_json(*r) for g, r in results.items()}} if every
                else _cmp_json(*results[group]))
        echo_json({"steps": opts.steps, "peak_lr": opts.peak_lr, **body})
        return
    echo(f"schedules for {opts.steps} updates at peak lr {opts.peak_lr:g} (warmup {opts.warmup_frac:g}, "
               f"min lr ratio {opts.min_lr_ratio:g}), by predicted final loss")
    for g, (cmp, _) in results.items():
        if every:
            echo(f"\n{fit.by} = {g}")
        _echo_cmp(cmp)
