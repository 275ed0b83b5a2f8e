"""Every number the README quotes, computed by the code (mostly by the very commands the README shows).

    python benchmarks/readme_numbers.py            # compute, print each README sentence, say which differ
    python benchmarks/readme_numbers.py --write    # rewrite those sentences of README.md from the code

Each fact is a *template*: a README sentence with ``{name:format}`` fields. The script computes the values,
renders the templates and checks that README.md contains each rendered sentence verbatim (``--write``
replaces the sentence with fresh numbers; the rest of the README is untouched). ``tests/test_readme.py``
runs the check, so a README number typed by hand or left behind by an engine change fails the suite.
Published reference numbers (the papers' own) are quoted in the README as constants and are not facts.
Runs offline on the bundled datasets and the committed proxy sweeps; about a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shlex
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
EPOCH = 'dataset:epoch-chinchilla --where "loss < 3.44"'
CPU = "runs/chinchilla-cpu/runs.csv"


def cli(command: str) -> dict:
    """Run ``scalefit ARGS --json`` in-process (from the repository root) and return the parsed JSON."""
    import os

    from typer.testing import CliRunner

    from scalefit.cli.app import app

    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        res = CliRunner().invoke(app, [*shlex.split(command), "--json"])
    finally:
        os.chdir(cwd)
    if res.exit_code != 0:
        raise RuntimeError(f"scalefit {command} failed: {res.output}{res.stderr}")
    return json.loads(res.stdout)


def _iv(d: dict, name: str) -> tuple[float, float]:
    lo, hi = d["intervals"][name]
    return lo, hi


def epoch() -> dict:
    fit = cli(f"fit chinchilla {EPOCH} --bootstrap 1000 --seed 0 --out {_tmp('chin.json')}")
    plan = cli(f"plan {_tmp('chin.json')} --compute 5.88e23")["compute_optimal"][0]
    bt = cli(f'backtest chinchilla {EPOCH} --holdout "N >= 5e9"')
    p = fit["params"]
    (e_lo, e_hi), (a_lo, a_hi), (b_lo, b_hi) = _iv(fit, "E"), _iv(fit, "alpha"), _iv(fit, "beta")
    return {
        "E": p["E"], "A": p["A"], "B": p["B"], "alpha": p["alpha"], "beta": p["beta"],
        "objective": _sci(fit["stats"]["objective"], 5), "n_reached": fit["search"]["n_reached"],
        "E_lo": e_lo, "E_hi": e_hi, "alpha_lo": a_lo, "alpha_hi": a_hi, "beta_lo": b_lo, "beta_hi": b_hi,
        "N_opt": _sci(plan["N_opt"], 1), "D_opt": _sci(plan["D_opt"], 1), "tpp": plan["tokens_per_param"],
        "bt_mean": 100 * bt["mean_abs_rel_error"], "bt_max": 100 * bt["max_abs_rel_error"],
    }


def steplaw() -> dict:
    # the README's command less its lr-bsz loss valley (--opt surface=false): no quoted number comes from the valley,
    # the lr*/B* fits and the checks are the same bit for bit, and its 1,000-resample bootstrap is ~96% of the time
    hp = cli('fit hparams dataset:steplaw-dense --target "smooth loss" --opt seq_len=2048 --bootstrap 1000 '
             '--opt surface=false')
    lr, b = hp["fits"]["lr"]["params"], hp["fits"]["B"]["params"]
    gaps = [c["gap"] for c in hp["check"]]
    loo = [c["gap_loo"] for c in hp["check"] if c.get("gap_loo") is not None]
    return {"c_lr": lr["c_eta"], "lr_N": lr["alpha"], "lr_D": lr["beta"], "c_B": b["c_B"], "B_D": b["gamma"],
            "gap": 100 * float(np.mean(gaps)), "gap_loo": 100 * float(np.mean(loo)), "cells": len(gaps)}


def lr_transfer() -> dict:
    d = cli("fit lr-transfer runs/lr-transfer-cpu/runs.csv --opt target_width=1024")["params"]
    sp, mup = d["sp"], d["mup"]
    out = {"sp_slope": sp["slope"], "sp_lo": sp["bootstrap_interval"][0], "sp_hi": sp["bootstrap_interval"][1],
           "mup_slope": mup["slope"], "mup_lo": mup["bootstrap_interval"][0], "mup_hi": mup["bootstrap_interval"][1],
           "sp_verdict": sp["verdict"], "mup_verdict": mup["verdict"]}
    mup_init = json.loads((REPO / "benchmarks" / "results" / "init_default_mup.json").read_text())
    default = mup_init["defaults"]["init_std"]
    for factor in (1, 2, 4):
        out[f"mup_init_{factor}"] = mup_init["best_by_init"][f"{factor * default:g}"]
    transfer = json.loads((REPO / "benchmarks" / "results" / "mup_init_transfer_seeds.json").read_text())
    out["m4_init"] = 4 * transfer["default_init"]
    out["m4_gain"] = out["m4_init"] * math.sqrt(min(transfer["widths"]))  # std x sqrt(fan-in) at the base width
    out["m4_seeds"] = len(transfer["seeds"])
    fitted = transfer["checks"]["mup 4x"]["fit"]
    out.update({"m4_slope": fitted["mup"]["slope"], "m4_slo": fitted["mup"]["interval"][0],
                "m4_shi": fitted["mup"]["interval"][1], "m4_verdict": fitted["mup"]["verdict"],
                "m4_sp_slope": fitted["sp"]["slope"]})
    if not transfer["checks"]["mup 4x 1/d"]["same_argmin"]:  # the README says "at every width"
        raise RuntimeError("muP 4x 1/d: the argmin is no longer the same at every width; rewrite the README sentence")
    fitted = transfer["checks"]["mup 4x 1/d"]["fit"]["mup"]
    out.update({"d_slope": fitted["slope"], "d_slo": fitted["interval"][0], "d_shi": fitted["interval"][1],
                "d_verdict": fitted["verdict"]})
    for key, name in (("mup 4x", "m4"), ("mup 1x", "m1"), ("sp 1x", "sp"), ("mup 4x 1/d", "d")):
        for width, row in transfer["table"][key].items():
            out[f"{name}_{width}"], out[f"{name}_lr_{width}"] = row["best_loss"], row["argmin"]
    base = json.loads((REPO / "benchmarks" / "results" / "init_default_base.json").read_text())
    for name, factor in (("05", 0.5), ("1", 1), ("2", 2), ("4", 4)):
        out[f"base_init_{name}"] = base["best_by_init"][f"{factor * default:g}"]
    for p in ("sp", "mup"):
        out[f"{p}_tlo"], out[f"{p}_thi"] = d[p]["slope_interval"]
        out.update({f"{p}_best_{int(w['width'])}": w["best_loss"] for w in d[p]["widths"]})
    return out


SELECT_LAWS = ("chinchilla", "overtrain", "kaplan")


def selection() -> dict:
    """The leaderboard of the README's `scalefit select` command on the Epoch data (3 laws x 2 objectives)."""
    d = cli(f"select {EPOCH} --candidates {','.join(SELECT_LAWS)}")
    first = d["board"][0]["folds"]
    out = {"winner": next(f"{e['law']} ({e['objective']})" for e in d["board"] if e.get("winner")),
           "n1": first[0]["n"], "n2": first[1]["n"]}
    for rank, e in enumerate(d["board"], 1):
        key = f"{e['law']}_{e['objective']}"
        out.update({f"{key}_rank": rank, f"{key}_r2": e["r2"], f"{key}_rmsle": e["rmsle"],
                    f"{key}_mare": 100 * e["mean_abs_rel_error"], f"{key}_aic": e["aic"], f"{key}_bic": e["bic"]})
    return out


def _board_row(law: str, objective: str) -> str:
    k = f"{law}_{objective}"
    return (f"| {{{k}_rank}} | {law} | {objective} | {{{k}_r2:.3f}} | {{{k}_rmsle:.4f}} | {{{k}_mare:.2f}}% | "
            f"{{{k}_aic:.0f}} | {{{k}_bic:.0f}} |")


SCALE_JSON = REPO / "benchmarks" / "results" / "bench_scale.json"
SCALE_ROWS = (240, 10_000, 100_000, 1_000_000)


def scale() -> dict:
    """The README's Scale table: the committed output of ``benchmarks/bench_scale.py --save`` (minutes to run)."""
    res = json.loads(SCALE_JSON.read_text())
    rows = {r["rows"]: r for r in res["scale"]}
    out = {"load": max(res["machine"]["load_before"][0], res["machine"]["load_after"][0])}
    for n in SCALE_ROWS:
        r = rows[n]
        out.update({f"wall_{n}": r["wall_s"], f"ratio_{n}": r["ratio"], f"rss_{n}": r["rss_mb"],
                    f"alpha_{n}": 100 * r["alpha_err"], f"beta_{n}": 100 * r["beta_err"]})
    s, b = res["startup"]["times_s"], res["extra"]["bootstrap"]
    out.update({"numpy": s["import numpy"], "help": s["scalefit --help"], "laws": s["scalefit laws"],
                "predict": s["scalefit predict --at"], "boot_rows": b["rows"], "boot_n": b["resamples"],
                "boot_wall": b["wall_s"], "boot_rss": b["rss_mb"]})
    r = res["recovery"]
    out.update({"rec_seeds": r["seeds"], "rec_alpha": 100 * r["alpha_err_sd"], "rec_beta": 100 * r["beta_err_sd"],
                "rec_within": r["both_within_2pct"]})
    for g in res["groups"]:
        k = f"g_{g['law']}"
        out.update({f"{k}_groups": g["groups"], f"{k}_rows": g["rows_per_group"], f"{k}_s": g["grouped_s"],
                    f"{k}_x": g["speedup"], f"{k}_loop": g["loop_s"]})
    return out


def _scale_row(n: int) -> str:
    return (f"| {n:,} | {{wall_{n}:.1f}} s | {{ratio_{n}:.1f}}× | {{rss_{n}:,.0f}} MB | {{alpha_{n}:+.2f}}% | "
            f"{{beta_{n}:+.2f}}% |")


def _sci(x: float, digits: int) -> str:
    """``7.4e10``, ``1.01827e-3``: scientific notation without the ``+``/leading zeros of Python's."""
    mant, exp = f"{x:.{digits}e}".split("e")
    return f"{mant}e{int(exp)}"


def _kilo(n: float) -> str:
    return f"{n / 1e3:.0f}k"


def chinchilla_cpu() -> dict:
    runs = pd.read_csv(REPO / CPU)
    fit = cli(f"fit chinchilla {CPU} --bootstrap 1000 --seed 0")
    largest = runs["n_params"].max()
    one = cli(f'backtest chinchilla {CPU} --holdout "N >= {largest:.0f}"')
    two = cli(f'backtest chinchilla {CPU} --holdout "N >= 2e5"')
    p = fit["params"]
    out = {"runs": len(runs), "n_min": _kilo(runs["n_params"].min()), "n_max": _kilo(largest),
           "largest": f"{largest:.0f}", "rmse": 100 * fit["stats"]["rmse_log"],
           "one_n": one["n_holdout"], "one_mean": 100 * one["mean_abs_rel_error"],
           "one_max": 100 * one["max_abs_rel_error"], "n_rest": one["n_fit"],
           "two_n": two["n_holdout"], "two_mean": 100 * two["mean_abs_rel_error"],
           "two_max": 100 * two["max_abs_rel_error"], "a": fit["derived"]["a"],
           "d_min": runs["n_tokens"].min() / 1e6, "d_max": runs["n_tokens"].max() / 1e6,
           "m_min": (runs["n_tokens"] / runs["n_params"]).min(), "m_max": (runs["n_tokens"] / runs["n_params"]).max()}
    for k in ("alpha", "beta", "E", "a"):
        out[k] = p.get(k, out.get(k))
        out[k + "_lo"], out[k + "_hi"] = _iv(fit, k)
    return out


def defaults() -> dict:
    """The defaults' reasons: the default corpus's size and SP's init study (benchmarks/results/init_default.json,
    `python benchmarks/init_default.py --save`), the llama layout's per-step cost (bench_train_throughput.json)."""
    init = json.loads((REPO / "benchmarks" / "results" / "init_default.json").read_text())
    layout = json.loads((REPO / "benchmarks" / "results" / "bench_train_throughput.json").read_text())
    ratios = [case["llama_vs_gpt2"]["ratio"] for case in layout["cases"].values()]
    best = {float(k): v for k, v in init["best_by_init"].items()}
    lo, mid, hi = sorted(best)
    return {"mb": init["corpus_train_bytes"] / 1e6, "python": init["python"], "r_lo": min(ratios),
            "r_hi": max(ratios), "init": mid, "best_mid": best[mid], "best_lo": best[lo], "best_hi": best[hi],
            "lo": lo, "hi": hi}


def gadre() -> dict:
    from scalefit.fitting import fit
    from scalefit.planning.chain import chain_predict
    from scalefit.runs import read_runs

    runs = read_runs("dataset:gadre-overtrain").frame
    loss_set = "dataset == 'rpj' and ((M == 20 and N < 1e9) or (N < 2e7 and M == 320))"
    err_set = "dataset == 'rpj' and ((M == 20 and N < 2e9) or (N < 2e7 and M == 320))"
    rpj = runs[runs.dataset == "rpj"]
    held = rpj[(rpj.N > 5e9) | ((rpj.N > 1e9) & (rpj.M == 640))].sort_values("N")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loss = fit("overtrain", runs, target="loss_c4_val", where=loss_set, loss="mse", space="raw")
        err = fit("downstream", runs, target="err_avg17", map={"L": "loss_c4_val"}, where=err_set,
                  loss="mse", space="raw")
        pred = loss.predict({"N": held.N.to_numpy(), "D": held.D.to_numpy()})
        chained = chain_predict(loss, err, {"N": held.N.to_numpy(), "M": held.M.to_numpy()}).frame
    rel = 100 * (pred / held.loss_c4_val.to_numpy() - 1)
    rel_err = 100 * (chained.iloc[:, -1].to_numpy() / held.err_avg17.to_numpy() - 1)
    return {**{k: loss.params[k] for k in ("E", "a", "b", "eta")}, "l_small": rel[0], "l_big": rel[1],
            "e_small": rel_err[0], "e_big": rel_err[1]}


def uncertainty() -> dict:
    """The calibration table: synthetic (bench_calibration.py's committed JSON), Epoch's N >= 5e9 holdout and
    Gadre's two held-out over-training runs, each with the 95% mean and prediction intervals."""
    syn = json.loads((REPO / "benchmarks/results/bench_calibration.json").read_text())
    out = {"syn_draws": syn["draws"], "syn_runs": syn["held_out_runs"], "syn_err": 100 * syn["mean_abs_rel_error"]}
    gp = syn["public"]["gadre"]
    out.update({"gp_cov": 100 * gp["coverage"], "gp_runs": gp["runs"], "gp_w": 100 * gp["mean_rel_width"],
                "gp_x": gp["width_over_error"], "gp_err": 100 * gp["mean_abs_rel_error"]})
    for kind in ("mean", "prediction"):
        k = kind[:4]
        s = syn[kind]
        out.update({f"syn_{k}_cov": 100 * s["coverage"], f"syn_{k}_w": 100 * s["mean_rel_width"],
                    f"syn_{k}_is": 100 * s["rel_interval_score"]})
        bt = cli(f'backtest chinchilla {EPOCH} --holdout "N >= 5e9" --bootstrap 400 --interval {kind}')["scores"]
        out.update({f"ep_{k}_cov": 100 * bt["coverage"], f"ep_{k}_w": 100 * bt["mean_rel_band_width"],
                    f"ep_{k}_is": 100 * bt["rel_interval_score"], "ep_err": 100 * bt["mean_abs_rel_error"],
                    "ep_n": bt["n"]})
    out["ep_ratio"] = out["ep_pred_w"] / out["ep_err"]
    out.update({f"ep_{k}_hits": round(out[f"ep_{k}_cov"] * out["ep_n"] / 100) for k in ("mean", "pred")})
    return {**out, **_gadre_intervals()}


def _gadre_intervals() -> dict:
    """Gadre's loss fit (5 runs, as in gadre()) and its intervals at the two held-out runs."""
    from scalefit.fitting import fit
    from scalefit.fitting.scores import band_scores
    from scalefit.runs import read_runs

    runs = read_runs("dataset:gadre-overtrain").frame
    rpj = runs[runs.dataset == "rpj"]
    held = rpj[(rpj.N > 5e9) | ((rpj.N > 1e9) & (rpj.M == 640))]
    where = "dataset == 'rpj' and ((M == 20 and N < 1e9) or (N < 2e7 and M == 320))"
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loss = fit("overtrain", runs, target="loss_c4_val", where=where, loss="mse", space="raw", bootstrap=400)
        x, y = {"N": held.N.to_numpy(), "D": held.D.to_numpy()}, held.loss_c4_val.to_numpy()
        pred = loss.predict(x)
        for kind in ("mean", "prediction"):
            s = band_scores(y, pred, *loss.predict_interval(x, interval=kind))
            out.update({f"ga_{kind[:4]}_cov": 100 * s["coverage"], f"ga_{kind[:4]}_w": 100 * s["mean_rel_band_width"],
                        f"ga_{kind[:4]}_is": 100 * s["rel_interval_score"]})
    out.update({"ga_err": 100 * float(np.mean(np.abs(pred / y - 1))), "ga_fit_rows": loss.stats["n"],
                "ga_folds": len(loss.calibration["folds"])})
    return out


def schedules() -> dict:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from schedule_prediction import check

    from scalefit.planning.curves import read_curves

    table = read_curves(REPO / "runs" / "schedules-cpu")
    rows = table.frame.index
    fitted = check(table, rows, 1 / 3, fit_lambda=True, lam=0.999, bootstrap=0)
    fixed = check(table, rows, 1 / 3, fit_lambda=False, lam=0.999, bootstrap=0)
    n = int(table.frame["n_params"].iloc[0])
    return {"n_params": _kilo(n), "steps": int(table.frame["total_steps"].max()),
            "pred": fitted["wsd_final_pred"], "logged": fitted["wsd_final_loss"],
            "err": 100 * fitted["wsd_final_rel_err"], "curve": 100 * fitted["wsd_curve_mean_abs_rel_err"],
            "start": fitted["start_step"], "lam": fitted["lambda"], "fixed_err": 100 * fixed["wsd_final_rel_err"]}


SWEEPS = {
    "chinchilla-cpu": "7 sizes (14k–459k params) × 4 lengths each (a WSD trunk and cooldown branches at 1/2, 1/4, "
                      "1/8) × 2 seeds, 4e10–1e13 FLOPs",
    "overtrain-cpu": "M = 5–640 at 14k and 26k params; M = 5, 20 at 41k–132k",
    "lr-transfer-cpu": "7 LRs (2^-10–2^-4) × widths 32, 64, 128 × SP/muP (base width 32), 512k tokens",
    "schedules-cpu": "constant, cosine, WSD curves of one 132k-param model, 1,200 steps",
}


LADDER = ("fit ladder runs/ladder-cpu/curves.csv --loss-cols 'loss_*' --acc-cols 'acc_*' --where \"n_params < 1e5\" "
          "--opt chance=0.25 --opt target_n=131520 --opt target_d=2630656 --bootstrap 200")


def ladder() -> dict:
    """The CPU ladder by the README's commands (the 132k-param run held out), and the synthetic benchmark's coverage
    from its committed output (benchmarks/results/bench_ladder.json: `python benchmarks/bench_ladder.py --json`)."""
    cli(f"{LADDER} --out {_tmp('ladder.json')}")
    pred = cli(f"predict {_tmp('ladder.json')} --at N=131520 --at D=2630656 --interval mean")["predictions"][0]
    wide = cli(f"predict {_tmp('ladder.json')} --at N=131520 --at D=2630656")["predictions"][0]
    curves = pd.read_csv(REPO / "runs" / "ladder-cpu" / "curves.csv")
    last = curves.sort_values("step").groupby("run_id").tail(1)
    target = last[last.n_params == 131520].iloc[0]
    rungs = last[last.n_params < 1e5]
    items = json.loads((REPO / "runs" / "ladder-cpu" / target.run_id / "config.json").read_text())["cloze_items"]
    bench = json.loads((REPO / "benchmarks" / "results" / "bench_ladder.json").read_text())
    acc = float(target.acc_cloze)
    return {"runs": len(rungs), "n_min": _kilo(rungs.n_params.min()), "n_max": _kilo(rungs.n_params.max()),
            "n_target": _kilo(target.n_params), "L": pred["L_pred"], "L_lo": pred["L_lower"], "L_hi": pred["L_upper"],
            "L_act": float(target.loss_cloze), "acc": pred["acc_pred"], "acc_lo": pred["acc_lower"],
            "acc_hi": pred["acc_upper"], "acc_act": acc, "L_plo": wide["L_lower"], "L_phi": wide["L_upper"],
            "acc_plo": wide["acc_lower"], "acc_phi": wide["acc_upper"], "items": items,
            "se": (acc * (1 - acc) / items) ** 0.5,
            "draws": bench["draws"], "coverage": 100 * bench["coverage"], "cov_meas": 100 * bench["coverage_measured"],
            "bench_err": bench["mean_abs_acc_error"], "bench_width": bench["mean_interval_width"]}


def sweeps() -> dict:
    out = {}
    for name in SWEEPS:
        runs = pd.read_csv(REPO / "runs" / name / "runs.csv")
        key = name.replace("-", "_")
        out[f"{key}_runs"] = len(runs)
        out[f"{key}_sum"] = runs["wall_s"].sum() / 60
        out[f"{key}_max"] = runs["wall_s"].max() / 60
    return out


def batched_train() -> dict:
    """Batched vs sequential training on CPU, from the committed output of bench_batched_train.py --json."""
    bench = json.loads((REPO / "benchmarks" / "results" / "bench_batched_train.json").read_text())
    return {"w32": bench["ratio_w32_k8"], "w128": bench["ratio_w128_k8"], "k1": bench["ratio_k1"]}


def width_transfer_defaults() -> dict:
    """muP on the defaults against SP, widths 32-256 (muP also 512), 2 seeds: the committed output of
    `python benchmarks/width_transfer_defaults.py --save`."""
    bench = json.loads((REPO / "benchmarks" / "results" / "width_transfer_defaults.json").read_text())
    checks, table, fit = bench["checks"], bench["table"], bench["fit"]
    for claim in ("same_argmin", "loss_falls", "within_margin_128_256", "sp_default_within_128"):
        if not checks[claim]:  # the README's words ("at every width", "falls", ...) state these
            raise RuntimeError(f"width_transfer_defaults: {claim} no longer holds; rewrite the README sentence")
    out = {"runs": bench["runs"], "core_h": bench["core_hours"], "sp_gap": checks["sp_default_minus_best_128"]}
    out.update({f"m_{w}": r["best_loss"] for w, r in table["mup"].items()})
    out["m_lr"] = table["mup"]["32"]["argmin"]
    out.update({f"s_{w}": r["best_loss"] for w, r in table["sp 1x"].items()})
    out.update({f"s_lr_{w}": r["argmin"] for w, r in table["sp 1x"].items()})
    out.update({f"g{w}": checks["mup_minus_sp_best"][w] for w in ("128", "256")})
    for p, name in (("mup", "m"), ("sp", "s")):
        out[f"{name}_slope"], out[f"{name}_verdict"] = fit[p]["slope"], fit[p]["verdict"]
        out[f"{name}_lo"], out[f"{name}_hi"] = fit[p]["interval"]
    return out


def width_transfer() -> dict:
    """muP against SP across widths 32-256 (muP also 512), from the committed outputs of bench_width_transfer.py
    --save and diag_mup_width.py --collect --save (muP at 4x the init at width 256)."""
    import math

    bench = json.loads((REPO / "benchmarks" / "results" / "bench_width_transfer.json").read_text())
    rows = {r["width"]: r for r in bench["rows"]}
    out = {f"mup_best_{w}": r["mup_best"] for w, r in rows.items()}
    out.update({f"sp_lr_{w}": int(math.log2(r["sp_lr_argmin"])) for w, r in rows.items() if "sp_lr_argmin" in r})
    out.update({f"gap_{w}": rows[w]["mup_minus_sp_best_init"] for w in (128, 256)})
    out.update({f"mup_init_{w}": rows[w]["mup_best_init"] for w in (128, 256)})
    out["mup_lr"] = int(math.log2(rows[32]["mup_lr_argmin"]))
    out["runs"], out["core_hours"] = bench["cost"]["runs"], bench["cost"]["core_hours"]
    diag = json.loads((REPO / "benchmarks" / "results" / "diag_mup_width.json").read_text())["runs"]
    x4 = [r["loss"] for r in diag if r["variant"] == "none" and r["parametrization"] == "mup" and r["width"] == 256
          and r["init_std"] == 4 * bench["default_init_std"]]
    out["x4_256"] = float(np.mean(x4))
    for p in ("mup", "sp"):
        out[f"{p}_slope"] = bench["slope"][p]["slope"]
        out[f"{p}_lo"], out[f"{p}_hi"] = bench["slope"][p]["slope_interval"]
        out[f"{p}_verdict"] = bench["slope"][p]["verdict"]
    return out


def gpu_batch_runs() -> dict:
    """The GPU default of --batch-runs by model size (scalefit.sweeps.batching.GPU_BATCH_RUNS)."""
    from scalefit.sweeps.batching import GPU_BATCH_RUNS

    (n1, k1), (n2, k2), (n3, k3) = GPU_BATCH_RUNS
    return {"k1": k1, "k2": k2, "k3": k3, "n1": _millions(n1), "n2": _millions(n2), "n3": _millions(n3)}


def _millions(n: float) -> str:
    return f"{n / 1e6:g}M"


_TMP: list = []


def _tmp(name: str) -> str:
    import tempfile

    if not _TMP:
        _TMP.append(Path(tempfile.mkdtemp(prefix="readme-numbers-")))
    return str(_TMP[0] / name)


# (section, README sentences with {field:format}); each sentence must appear verbatim in README.md.
FACTS: list[tuple[Callable[[], dict], list[str]]] = [
    (epoch, [
        "| scalefit | {E:.4f} | {A:.2f} | {B:.1f} | {alpha:.4f} | {beta:.4f} | {objective} |",
        "95% bootstrap intervals (1,000 resamples, seed 0): E {E_lo:.3f}–{E_hi:.3f} (Epoch 1.769–1.871),\n"
        "α {alpha_lo:.3f}–{alpha_hi:.3f} (0.317–0.373), β {beta_lo:.3f}–{beta_hi:.3f} (0.331–0.415).",
        "N* = {N_opt}, D* = {D_opt}, {tpp:.1f} tokens per parameter.",
        "the mean absolute relative error on the held-out runs is {bt_mean:.2f}% (max {bt_max:.1f}%).",
    ]),
    (steplaw, [
        "scalefit gives lr* = {c_lr:.1f} N^{lr_N:.3f} D^{lr_D:.3f} and B*_tokens = {c_B:.3f} D^{B_D:.3f}",
        "is {gap:.3f}% above the cell's best loss on\naverage ({gap_loo:.3f}% when each cell is left out of the fit)",
    ]),
    (lr_transfer, [
        "(slope of log2 lr* on log2 width {sp_slope:.2f}, bootstrap interval [{sp_lo:.2f}, {sp_hi:.2f}])\n"
        "and much less under muP ({mup_slope:.2f}, bootstrap [{mup_lo:.2f}, {mup_hi:.2f}])",
        "the reported intervals (the wider of bootstrap and regression-t:\n"
        "SP [{sp_tlo:.2f}, {sp_thi:.2f}], muP [{mup_tlo:.2f}, {mup_thi:.2f}]) give SP \"{sp_verdict}\" and muP "
        "\"{mup_verdict}\"",
        "On these defaults muP's best loss at widths 32, 64, 128 is {mup_best_32:.3f}, {mup_best_64:.3f},\n"
        "{mup_best_128:.3f} against SP's {sp_best_32:.3f}, {sp_best_64:.3f}, {sp_best_128:.3f}",
        "muP's best loss at width 128 is {mup_init_1:.3f} / {mup_init_2:.3f} / {mup_init_4:.3f} at 1× / 2× / 4× the\n"
        "default init",
        "where muP is SP, does best at the default init: {base_init_1:.3f} against {base_init_05:.3f} / "
        "{base_init_2:.3f} / {base_init_4:.3f} at 0.5× / 2× / 4×",
        "At 4× the default init\n({m4_init:g} at width 32: a fan-in gain of {m4_gain:.1f}, near u-μP's unit scaling)",
        "mean of {m4_seeds} seeds): argmin {m4_lr_32}, {m4_lr_64}, {m4_lr_128}, {m4_lr_256}, best loss\nfalling "
        "{m4_32:.3f}, {m4_64:.3f}, {m4_128:.3f}, {m4_256:.3f} against SP's {sp_32:.3f}, {sp_64:.3f}, {sp_128:.3f}, "
        "{sp_256:.3f} (muP at the default init, seed 0:\n{m1_32:.3f}, {m1_64:.3f}, {m1_128:.3f}, {m1_256:.3f})",
        "`fit lr-transfer` gives muP a slope of {m4_slope:.2f} [{m4_slo:.2f}, {m4_shi:.2f}], \"{m4_verdict}\" (SP "
        "{m4_sp_slope:.2f})",
        "muP's argmin is {d_lr_32} at every width and its best loss {d_32:.3f}, {d_64:.3f},\n{d_128:.3f}, "
        "{d_256:.3f}; its slope {d_slope:.2f} [{d_slo:.2f}, {d_shi:.2f}], \"{d_verdict}\" with one seed",
    ]),
    (width_transfer_defaults, [
        "(0.5× and 2× its 0.04; {runs} runs, {core_h:.1f} core-hours on this 2-core CPU). Mean of 2 seeds: "
        "muP's best LR\nis {m_lr} at every width and its best loss falls {m_32:.3f}, {m_64:.3f}, {m_128:.3f}, "
        "{m_256:.3f}, {m_512:.3f}, while SP's moves\n{s_lr_32}, {s_lr_64}, {s_lr_128}, {s_lr_256} (best loss "
        "{s_32:.3f}, {s_64:.3f}, {s_128:.3f}, {s_256:.3f}); `scalefit fit lr-transfer` on these runs\ngives muP a "
        "slope of {m_slope:.2f} [{m_lo:.2f}, {m_hi:.2f}], \"{m_verdict}\", and SP {s_slope:.2f} [{s_lo:.2f}, "
        "{s_hi:.2f}], \"{s_verdict}\".",
        "muP's best loss minus SP's best over its three inits is {g128:+.3f} nats at width 128 and {g256:+.3f} at\n"
        "256 (muP at its default init: at its own best init it could only be lower), and SP's default init is "
        "{sp_gap:.3f} nats\nfrom its best at width 128.",
    ]),
    (chinchilla_cpu, [
        "({runs} byte-level transformer LMs of {n_min}–{n_max} parameters",
        "the Chinchilla law gives α = {alpha:.2f}\n(95% interval {alpha_lo:.2f}–{alpha_hi:.2f}), "
        "β = {beta:.2f} ({beta_lo:.2f}–{beta_hi:.2f}), E = {E:.2f} ({E_lo:.2f}–{E_hi:.2f}) nats/byte, "
        "a = β/(α+β) = {a:.2f}\n({a_lo:.2f}–{a_hi:.2f}), RMSE {rmse:.1f}% in log loss",
        '(`--holdout "N >= {largest}"`) the fit on\nthe other {n_rest} runs predicts its {one_n} runs within '
        '{one_mean:.2f}% on average (max {one_max:.2f}%)',
        '(`"N >= 2e5"`,\n{two_n} runs) within {two_mean:.2f}% on average (max {two_max:.2f}%)',
        "branches; {d_min:.1f}M–{d_max:.1f}M tokens, {m_min:.0f}–{m_max:.0f} tokens per parameter)",
    ]),
    (defaults, [
        "standard-library source (PSF licence, installed with every Python): {mb:.1f}M training bytes on Python "
        "{python} (the",
        "users predict, and costs {r_lo:.2f}–{r_hi:.2f}× the GPT-2 layout per step on CPU",
        "{init:g} is SP's best\ninit at width 128 on the new layout ({best_mid:.3f} nats against {best_lo:.3f} at "
        "{lo:g} and {best_hi:.3f} at {hi:g}, each at its best LR:",
    ]),
    (gadre, [
        "scalefit gives E = {E:.3f},\na = {a:.1f}, b = {b:.1f}, η = {eta:.4f} (paper 1.84, 212, 367, 0.136)",
        "1.4B M=640 run within {l_small:+.2f}% and of the 6.9B M=20 run within {l_big:+.2f}% (paper 0.7% each), "
        "and their\n17-task error within {e_small:+.2f}% and {e_big:+.2f}% (paper 3.6%, 0.05%)",
    ]),
    (uncertainty, [
        "| synthetic, {syn_draws} draws ({syn_runs} runs) | {syn_err:.2f}% | {syn_mean_cov:.1f}% | {syn_mean_w:.2f}% | "
        "{syn_mean_is:.2f}% | {syn_pred_cov:.1f}% | {syn_pred_w:.2f}% | {syn_pred_is:.2f}% |",
        "| Epoch, N ≥ 5e9 ({ep_n} runs) | {ep_err:.2f}% | {ep_mean_cov:.1f}% | {ep_mean_w:.2f}% | {ep_mean_is:.2f}% | "
        "{ep_pred_cov:.1f}% | {ep_pred_w:.2f}% | {ep_pred_is:.2f}% |",
        "| Gadre, 2 over-trained runs | {ga_err:.2f}% | {ga_mean_cov:.0f}% | {ga_mean_w:.2f}% | {ga_mean_is:.2f}% | "
        "{ga_pred_cov:.0f}% | {ga_pred_w:.2f}% | {ga_pred_is:.2f}% |",
        "the prediction band is {ep_ratio:.1f} times the mean |relative error|, and it covers\n"
        "{ep_pred_hits} of the {ep_n} held-out runs where the bootstrap band covers {ep_mean_hits}.",
        "fitted on {ga_fit_rows} runs, {ga_folds} extrapolation folds",
        "the 95% prediction interval covers {gp_cov:.1f}% of those {gp_runs} runs at a mean width of {gp_w:.1f}%,\n"
        "{gp_x:.1f} times their mean |relative error| of {gp_err:.2f}%",
    ]),
    (schedules, [
        "`runs/schedules-cpu` ({n_params} parameters, {steps:,} steps), the\nlaw predicts the held-out WSD run's "
        "final loss at {pred:.4f} against the logged {logged:.4f} ({err:+.2f}%; mean\nrelative error "
        "{curve:.2f}% over its curve from step {start}), with λ fitted ({lam:.3f}; the default 0.999 gives "
        "{fixed_err:+.1f}%)",
    ]),
    (selection, [*(_board_row(law, obj) for law in SELECT_LAWS for obj in ("huber", "mse")),
                 "quantiles of the rows, never inside a tie of N, predict the {n1} and {n2} runs above)",
                 "The winner, refitted on all 240 runs and written to `best.json`, is {winner}"]),
    (scale, [*(_scale_row(n) for n in SCALE_ROWS),
             "`--bootstrap {boot_n}` on {boot_rows:,} rows: {boot_wall:.0f} s, peak {boot_rss:,.0f} MB",
             "`scalefit --help` {help:.2f} s, `scalefit laws` {laws:.2f} s and `scalefit predict FIT --at …` "
             "{predict:.2f} s, against {numpy:.2f} s for `python -c \"import numpy\"`",
             "over {rec_seeds:d} seeds of that log the\nerrors have s.d. {rec_alpha:.1f}% for α and "
             "{rec_beta:.1f}% for β, and both are within 2% in {rec_within:d} of them",
             "{g_chinchilla_groups:d} Chinchilla groups of {g_chinchilla_rows:d} rows fit in {g_chinchilla_s:.1f} s "
             "(a loop fitting them one by one: {g_chinchilla_loop:.1f} s, {g_chinchilla_x:.1f}× longer), and\n"
             "{g_power_groups:d} power-law groups of {g_power_rows:d} rows in {g_power_s:.1f} s (the loop: "
             "{g_power_loop:.1f} s, {g_power_x:.1f}×)"]),
    (ladder, [
        "On the committed CPU ladder ({runs} runs of {n_min}–{n_max} parameters; the {n_target}-parameter run "
        "held out),\nthe ladder predicts that run's cloze task loss at {L:.3f} (95% prediction interval "
        "{L_plo:.3f}–{L_phi:.3f}, mean interval\n{L_lo:.3f}–{L_hi:.3f}; logged {L_act:.3f}) and its accuracy at "
        "{acc:.3f} (prediction {acc_plo:.3f}–{acc_phi:.3f}, mean\n{acc_lo:.3f}–{acc_hi:.3f}; measured {acc_act:.3f} "
        "on {items} items, sampling s.e. {se:.3f}).",
        "On {draws} synthetic ladders the 95% mean interval covers the held-out 7B model's true accuracy in\n"
        "{coverage:.0f}% of draws ({cov_meas:.0f}% of a noisy measurement of it; mean |error| {bench_err:.3f}, "
        "mean width\n{bench_width:.3f}).",
    ]),
    (sweeps, [
        f"| `{name}` | {{{name.replace('-', '_')}_runs}} | {what} | {{{name.replace('-', '_')}_sum:.1f}} min | "
        f"{{{name.replace('-', '_')}_max:.1f}} min |"
        for name, what in SWEEPS.items()
    ]),
    (batched_train, [
        "On one CPU thread (seq 128, batch 16, depth 2), K = 8 batched members train at {w32:.2f}x the aggregate\n"
        "tokens/s of the same eight runs one by one at width 32 and at {w128:.2f}x at width 128; one member alone\n"
        "runs at {k1:.2f}x the single-run trainer (`benchmarks/bench_batched_train.py`).",
    ]),
    (width_transfer, [
        "muP's best learning rate is 2^{mup_lr} at every width (slope of log2 lr* per doubling {mup_slope:+.2f}, "
        "95%\ninterval [{mup_lo:+.2f}, {mup_hi:+.2f}]: {mup_verdict}) while SP's moves from 2^{sp_lr_32} to "
        "2^{sp_lr_256} ({sp_slope:+.2f},\n[{sp_lo:+.2f}, {sp_hi:+.2f}]: {sp_verdict}), and muP's best loss falls "
        "with width ({mup_best_32:.3f}, {mup_best_64:.3f},\n{mup_best_128:.3f}, {mup_best_256:.3f}, "
        "{mup_best_512:.3f}). muP's best loss minus SP's, each at its best init of 0.5×, 1× and 2× the\ndefault, "
        "is {gap_128:+.3f} nats at width 128 and {gap_256:+.3f} at 256 (muP's best init: {mup_init_128} and "
        "{mup_init_256}).",
        "`python benchmarks/bench_width_transfer.py --save` trains it ({runs} runs, {core_hours:.2f} core-hours on",
        "and 4× at 256 is better still, {x4_256:.3f}):",
    ]),
    (gpu_batch_runs, [
        "The default is 1 on CPU, and on a GPU {k1}, {k2} or {k3} members for models of up to {n1}, {n2} or {n3}\n"
        "parameters (larger ones train alone);",
    ]),
]


def render(only: str | None = None) -> list[tuple[str, str]]:
    """(template, rendered sentence) for every fact (of one section, if ``only`` names it)."""
    out = []
    for section, templates in FACTS:
        if only and section.__name__ != only:
            continue
        values = section()
        out += [(t, t.format(**values)) for t in templates]
    return out


def pattern(template: str) -> re.Pattern:
    """A regex matching the template with any number in each formatted field (``{x:.2f}``) and any text on one
    line in each plain field (``{winner}``, ``{N_opt}``): to find the sentence to rewrite."""
    parts = re.split(r"(\{[^{}]+\})", template)
    number, text = r"[-+−]?[0-9][0-9.,eE+\-k]*", r"[^\n]+?"
    return re.compile("".join(re.escape(p) if i % 2 == 0 else (number if ":" in p else text)
                              for i, p in enumerate(parts)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help="rewrite README.md's sentences with the computed numbers")
    ap.add_argument("--section", default=None, help="only this section (a function name above)")
    args = ap.parse_args()
    text = README.read_text()
    stale = 0
    for template, sentence in render(args.section):
        ok = sentence in text
        print(("ok     " if ok else "STALE  ") + sentence.replace("\n", " "))
        if not ok:
            stale += 1
            if args.write:
                found = pattern(template).search(text)
                if found is None:
                    print("       (no sentence of this shape in README.md; edit it by hand)")
                    continue
                text = text[:found.start()] + sentence + text[found.end():]
    if args.write:
        README.write_text(text)
        print("README.md rewritten" if stale else "README.md already up to date")
        return 0
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
