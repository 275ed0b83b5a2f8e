"""The ladder's two methods, the backtest that chooses between them per task, and the predictability triage.

- **Two steps** (Bhagia et al. 2024): task loss L(N, D) (``chinchilla``) on each run's reduced final checkpoint,
  then Acc(L) (``downstream-acc-sigmoid``) on the checkpoints after ``skip_first``, optionally smoothed (a
  trailing moving average of ``smooth`` checkpoints of the task loss and the accuracy alike).
- **Direct** (Krajewski et al. 2025): Acc(C) = chance + (1 - chance) exp(-(E + A (C/1e18)^-alpha))
  (``downstream-acc-compute``) on each run's reduced final accuracy against its compute C (6 N D).
- **Choice by backtest**, as ``select`` chooses a law: both methods are refitted without the runs of the largest
  ladder size and predict those runs' reduced final accuracies; per task the method with the lower mean absolute
  error is kept (the two steps on a tie, or when fewer than 3 sizes would remain to fit).
- **Triage** (after Heineman et al. 2025, "Signal and Noise", and Schaeffer et al. 2024 on why accuracy is less
  predictable than loss): per task, the checkpoint-to-checkpoint noise of the accuracy (1.4826 × MAD of
  successive differences within runs, / √2), the signal (the spread of the final accuracy across sizes), their
  ratio, and the expected error at the target, √(backtest error² + noise²) (a backtest of the largest size, plus
  the noise of the one evaluation the big run will get); a task whose expected error exceeds ``threshold``, or
  whose signal is below :data:`MIN_SNR` times its noise (the ladder's accuracies barely leave the checkpoint noise,
  e.g. every size still at chance: the accuracy step would extrapolate a curve the ladder never saw rise, and the
  backtest of a size as flat as the others cannot tell), is flagged before the big run.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from scalefit.fitting.api import fit_law

DIRECT, LOSS_LAW, ACC_LAW = "downstream-acc-compute", "chinchilla", "downstream-acc-sigmoid"
METHODS = ("two-step", "direct")
MIN_SIZES = 3  # sizes left to fit for the backtest choice
THRESHOLD = 0.05  # default triage threshold: 5 accuracy points
MIN_SNR = 3.0  # the triage flags a task whose accuracy spread across sizes is below this many checkpoint noises


def _cols():
    from scalefit.planning import ladder as lad

    return lad.RUN, lad.TASK, lad.TASK_LOSS, lad.TASK_ACC


def quiet_fit(*args: Any, **kwargs: Any):
    """fit_law's result and the sorted distinct warning messages it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fit_law(*args, **kwargs)
    return result, sorted({str(w.message) for w in caught})


def two_step(long, maps: Mapping[str, str], o: Mapping[str, Any], *, bootstrap: int, seed: int,
             calibrate: bool = True):
    """(step-1 fit, step-2 fit, [(step, message)]) of the two-step method on the long table ``long``."""
    from scalefit.runs import reduce_runs

    run, task, loss, acc = _cols()
    common = {"group_by": task, "run": run, "bootstrap": bootstrap, "seed": seed, "calibrate": calibrate}
    loss_fit, n1 = quiet_fit(LOSS_LAW, reduced_final(long, maps, o, [loss]), target=loss, mapping=dict(maps),
                             **common)
    # step 2's moving average smooths the task loss and the accuracy alike, so each (L, Acc) pair keeps the same lag
    smoothed = reduce_runs(long, run=run, smooth=o["smooth"], columns=[loss, acc]) if o.get("smooth") else long
    acc_fit, n2 = quiet_fit(ACC_LAW, smoothed, target=acc, mapping={"L": loss}, skip_first=o["skip_first"],
                            anchors=[{"L": 0.0, "Acc": 1.0}] if o["anchor"] else (),
                            law_options={} if o.get("chance") is None else {"chance": o["chance"]}, **common)
    return loss_fit, acc_fit, [("step 1", m) for m in n1] + [("step 2", m) for m in n2]


def direct(long, maps: Mapping[str, str], o: Mapping[str, Any], *, bootstrap: int, seed: int,
           calibrate: bool = True):
    """(the direct method's fit, [("direct", message)]) on the long table ``long``."""
    run, task, _, acc = _cols()
    fit, notes = quiet_fit(DIRECT, reduced_final(long, maps, o, [acc]), target=acc,
                           mapping={s: c for s, c in maps.items() if s in ("N", "D")}, group_by=task, run=run,
                           bootstrap=bootstrap, seed=seed, calibrate=calibrate,
                           law_options={"chance": float(o.get("chance") or 0.0)})
    return fit, [("direct", m) for m in notes]


def reduced_final(long, maps: Mapping[str, str], o: Mapping[str, Any], columns: list[str]):
    """One row per (run, task): the run's final checkpoint with ``columns`` reduced by ``reduce`` (default its last
    checkpoint; a mean over the last K is placed at the mean of their tokens and compute, as reduce_runs does)."""
    from scalefit.runs import reduce_runs

    return reduce_runs(long, run=_cols()[0], reduce=o.get("reduce") or "last", columns=columns, mapping=maps)


def final_accuracy(long, o: Mapping[str, Any], maps: Mapping[str, str] | None = None):
    """One row per (run, task): the run's reduced final accuracy (:func:`reduced_final`)."""
    return reduced_final(long, maps or {}, o, [_cols()[3]])


def predict_methods(loss_fit, acc_fit, direct_fit, task: str, n, d, c) -> dict[str, np.ndarray]:
    """Point predictions of both methods for one task at sizes ``n``, tokens ``d`` and compute ``c``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        L = loss_fit[task].predict({"N": n, "D": d})
        return {"two-step": acc_fit[task].predict({"L": L}), "direct": direct_fit[task].predict({"C": c})}


def backtest_choice(long, maps: Mapping[str, str], o: Mapping[str, Any], seed: int = 0) -> tuple[dict, list[str]]:
    """({task: {method, two-step, direct (mean |error| on the held-out runs), held_out}}, notes): both methods
    refitted without the largest size's runs and scored on them; see the module docstring."""
    from scalefit.runs import resolve

    run, task, _, acc = _cols()
    n_all = resolve(long, ["N"], mapping=dict(maps)).values["N"]
    sizes = np.unique(n_all)
    if len(sizes) - 1 < MIN_SIZES:
        return {}, [f"method choice: {len(sizes)} sizes leave fewer than {MIN_SIZES} to fit once the largest is "
                    "held out; the two steps are kept"]
    top = sizes[-1]
    train, test = long.subset(long.frame.index[n_all < top]), long.subset(long.frame.index[n_all == top])
    loss_fit, acc_fit, _ = two_step(train, maps, o, bootstrap=0, seed=seed, calibrate=False)
    direct_fit, _ = direct(train, maps, o, bootstrap=0, seed=seed, calibrate=False)
    final = final_accuracy(test, o, maps)
    x = resolve(final, ["N", "D", "C"], mapping=dict(maps)).values
    out = {}
    for name in sorted(set(final.frame[task].astype(str))):
        mask = (final.frame[task].astype(str) == name).to_numpy()
        truth = final.frame[acc].to_numpy(dtype=float)[mask]
        try:
            preds = predict_methods(loss_fit, acc_fit, direct_fit, name, x["N"][mask], x["D"][mask], x["C"][mask])
        except (ValueError, ArithmeticError, KeyError) as exc:
            out[name] = {"method": "two-step", "reason": " ".join(str(exc).split())}
            continue
        err = {m: float(np.mean(np.abs(p - truth))) for m, p in preds.items()}
        best = "direct" if err["direct"] < err["two-step"] or (np.isfinite(err["direct"]) and
                                                              not np.isfinite(err["two-step"])) else "two-step"
        out[name] = {"method": best, **err, "held_out": f"N = {top:.3g} ({int(mask.sum())} runs)"}
    return out, []


def triage(long, o: Mapping[str, Any], choice: Mapping[str, Mapping], threshold: float = THRESHOLD,
           maps: Mapping[str, str] | None = None) -> dict:
    """{task: {noise, signal, snr, backtest_error, expected_error, flagged}}; see the module docstring (flagged:
    the expected error exceeds ``threshold`` or the SNR is below :data:`MIN_SNR`)."""
    from scalefit.fitting.calibration import noise_scale
    from scalefit.runs import reduce_runs, resolve

    run, task, _, acc = _cols()
    kept = reduce_runs(long, run=run, skip_first=o["skip_first"], columns=[acc]) if o["skip_first"] else long
    final = final_accuracy(long, o, maps)
    sizes = resolve(final, ["N"], mapping=dict(maps or {})).values["N"]
    out = {}
    for name in sorted(set(long.frame[task].astype(str))):
        sub = kept.frame[kept.frame[task].astype(str) == name]
        diffs = np.concatenate([np.diff(g[acc].to_numpy(dtype=float)) for _, g in sub.groupby(run, sort=False)]
                               or [np.array([])])
        noise = float(noise_scale(diffs) / np.sqrt(2))  # 1.4826 × MAD of the finite differences
        mask = (final.frame[task].astype(str) == name).to_numpy()
        acc_f, n_f = final.frame[acc].to_numpy(dtype=float)[mask], sizes[mask]
        per_size = [float(np.mean(acc_f[n_f == s])) for s in np.unique(n_f)]
        signal = float(max(per_size) - min(per_size)) if per_size else 0.0
        c = choice.get(name, {})
        bt = c.get(c.get("method", "two-step"), float("nan"))
        expected = float(np.hypot(bt, noise)) if np.isfinite(bt) else float("nan")
        snr = signal / noise if noise > 0 else float("inf")
        out[name] = {"noise": noise, "signal": signal, "snr": snr, "backtest_error": float(bt),
                     "expected_error": expected,
                     "flagged": bool((np.isfinite(expected) and expected > threshold) or snr < MIN_SNR)}
    return out


__all__ = ["DIRECT", "METHODS", "MIN_SNR", "THRESHOLD", "backtest_choice", "direct", "final_accuracy",
           "predict_methods", "quiet_fit", "reduced_final", "triage", "two_step"]
