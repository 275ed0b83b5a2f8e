"""Backtest of the over-training and downstream-error laws on Gadre et al. 2024's released runs.

    python benchmarks/gadre_backtest.py [--data PATH] [--bootstrap 200] [--tasks 17|46] [--figures DIR]

Protocol of the paper (arXiv:2403.08540; its repository's default configuration), for each training
dataset (C4, RedPajama, RefinedWeb) and the C4 eval loss (column ``loss_c4_val``; N includes embeddings):
  loss:  fit ``overtrain`` (Eq. 4) on 5 runs: the 0.011B-0.411B models at M = 20 plus 0.011B at M = 320;
  error: fit ``downstream`` (Eq. 5) on those 5 runs plus the 1.4B model at M = 20 (6 runs);
  predict the held-out runs (1.4B over-trained, 6.9B at M = 20; the loss also for 1.4B at M = 20), the
  error through the *predicted* loss (``scalefit predict loss.json --chain err.json``).
Both are fitted with the paper's objective (least squares on raw values: --loss mse --space raw) and, for
the loss, also with scalefit's default (Huber 1e-3 on log loss). The paper's figures are printed beside ours
where the paper states them (RedPajama: Fig. 1 / Table 2); "-" marks figures not in our reference.
With --figures DIR, writes DIR/gadre_overtrain_<dataset>.png (Fig. 2 style) and DIR/gadre_downstream_<dataset>.png
(error vs loss with the chained held-out predictions; Fig. 1 right).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from scalefit.fitting import fit
from scalefit.planning.chain import chain_predict

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SCALEFIT_SHARED_DATA", REPO.parent / "shared" / "data"))
DATASETS = {"c4_original": "C4", "rpj": "RedPajama", "rw_original": "RefinedWeb"}
LOSS_SET = "((M == 20 and N < 1e9) or (N < 2e7 and M == 320))"
ERR_SET = "((M == 20 and N < 2e9) or (N < 2e7 and M == 320))"
HELD = "N > 1e9"
PAPER_CONSTANTS = {"rpj": {"E": 1.84, "a": 212.0, "b": 367.0, "eta": 0.136}}
# Paper's relative errors (%), keyed by (dataset, model size in B, M): (loss, 17-task error).
PAPER_REL = {("rpj", 1.4, 640): (0.7, 3.6), ("rpj", 6.9, 20): (0.7, 0.05)}


def _quiet_fit(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(*args, **kwargs)


def write_figures(runs: pd.DataFrame, ds: str, loss_fit, err_fit, out: Path) -> list[Path]:
    from scalefit.plotting import save_figure
    from scalefit.plotting._common import pyplot
    from scalefit.plotting.overtrain import plot_downstream, plot_overtrain

    shown = f"dataset == '{ds}'"
    paths = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, ax in (("overtrain", plot_overtrain(loss_fit, runs, where=shown)),
                         ("downstream", plot_downstream(err_fit, runs, where=f"{shown} and ({ERR_SET} or {HELD})",
                                                        loss_fit=loss_fit))):
            ax.figure.suptitle(f"Gadre et al. 2024 runs, {DATASETS[ds]} (C4 eval loss)", fontsize=10)
            paths.append(save_figure(ax.figure, out / f"gadre_{name}_{ds}.png", dpi=110))
            pyplot().close(ax.figure)
    return paths


def backtest_dataset(runs: pd.DataFrame, ds: str, err_col: str, bootstrap: int, seed: int,
                     figures: Path | None = None) -> tuple[list, dict]:
    where = f"dataset == '{ds}' and "
    paper_obj = {"loss": "mse", "space": "raw"}
    loss_fit = _quiet_fit("overtrain", runs, target="loss_c4_val", where=where + LOSS_SET, bootstrap=bootstrap,
                          seed=seed, **paper_obj)
    loss_default = _quiet_fit("overtrain", runs, target="loss_c4_val", where=where + LOSS_SET)
    err_fit = _quiet_fit("downstream", runs, target=err_col, mapping={"L": "loss_c4_val"}, where=where + ERR_SET,
                         bootstrap=bootstrap, seed=seed + 1, **paper_obj)
    held = runs[(runs.dataset == ds) & (runs.N > 1e9)].sort_values(["N", "M"])
    x = {"N": held.N.to_numpy(), "M": held.M.to_numpy()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chain = chain_predict(loss_fit, err_fit, x).frame
        loss_def = loss_default.predict(x)
    rows = []
    for i, (_, r) in enumerate(held.iterrows()):
        size = round(r.N / 1e9, 1)
        in_err_fit = bool(size == 1.4 and r.M == 20)
        paper = PAPER_REL.get((ds, size, int(r.M)), (None, None))
        row = {
            "dataset": DATASETS[ds], "N": f"{size:g}B", "M": int(r.M), "C": 6.0 * float(r.N) * float(r.D),
            "loss": r.loss_c4_val, "loss_pred": chain["L_pred"].iloc[i],
            "loss_rel": 100 * (chain["L_pred"].iloc[i] / r.loss_c4_val - 1),
            "loss_rel_default": 100 * (loss_def[i] / r.loss_c4_val - 1), "loss_rel_paper": paper[0],
            "err": r[err_col], "err_pred": None if in_err_fit else chain["Err_pred"].iloc[i],
            "err_rel": None if in_err_fit else 100 * (chain["Err_pred"].iloc[i] / r[err_col] - 1),
            "err_rel_paper": paper[1] if err_col == "err_avg17" else None,  # the paper's figures are 17-task
        }
        if bootstrap:
            row["loss_interval"] = (chain["L_lower"].iloc[i], chain["L_upper"].iloc[i])
            row["err_interval"] = (chain["Err_lower"].iloc[i], chain["Err_upper"].iloc[i])
        rows.append(row)
    if figures is not None:
        write_figures(runs, ds, loss_fit, err_fit, figures)
    consts = {"loss (paper objective)": loss_fit.params, "loss (scalefit default)": loss_default.params,
              "error": err_fit.params, "M_opt": float(loss_fit.derived("M_opt"))}
    fit_c = runs.query(where + LOSS_SET)
    flops = lambda f: 6.0 * f.N.astype(float) * f.D.astype(float)  # noqa: E731  (int64 N*D overflows)
    consts["compute_ratio"] = float(flops(held).max() / flops(fit_c).sum())
    return rows, consts


def _pct(v) -> str:
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:+.2f}%"


def _paper(v) -> str:
    return "-" if v is None else f"{v:.2f}%"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=SHARED / "gadre" / "runs_flat.csv")
    ap.add_argument("--bootstrap", type=int, default=0, help="bootstrap resamples for chained intervals")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tasks", choices=["17", "46"], default="17", help="17- or 46-task average error")
    ap.add_argument("--figures", type=Path, default=None, help="write the Gadre-style figures to this folder")
    args = ap.parse_args(argv)
    if not args.data.exists():
        print(f"error: {args.data} not found (set SCALEFIT_SHARED_DATA or pass --data)", file=sys.stderr)
        return 1
    runs = pd.read_csv(args.data)
    err_col = f"err_avg{args.tasks}"
    all_rows, all_consts = [], {}
    for ds in DATASETS:
        rows, consts = backtest_dataset(runs, ds, err_col, args.bootstrap, args.seed, args.figures)
        all_rows += rows
        all_consts[ds] = consts
    print(f"Gadre et al. 2024 backtest: overtrain (Eq. 4) on 5 runs, downstream (Eq. 5, {err_col}) on 6 runs, "
          "C4 eval loss; error predicted from the predicted loss.")
    print("rel. errors are (predicted - actual) / actual; 'paper' = relative error reported by Gadre et al. (|.|)\n")
    head = (f"{'dataset':<11} {'N':>5} {'M':>4} {'loss':>7} {'pred':>7} {'rel':>8} {'default':>8} {'paper':>6} | "
            f"{'error':>7} {'pred':>7} {'rel':>8} {'paper':>6}")
    print(head)
    print("-" * len(head))
    for r in all_rows:
        err_pred = "(fit)" if r["err_pred"] is None else f"{r['err_pred']:.4f}"
        print(f"{r['dataset']:<11} {r['N']:>5} {r['M']:>4} {r['loss']:>7.4f} {r['loss_pred']:>7.4f} "
              f"{_pct(r['loss_rel']):>8} {_pct(r['loss_rel_default']):>8} {_paper(r['loss_rel_paper']):>6} | "
              f"{r['err']:>7.4f} {err_pred:>7} {_pct(r['err_rel']):>8} {_paper(r['err_rel_paper']):>6}")
        if "loss_interval" in r:
            lo, hi = r["loss_interval"]
            elo, ehi = r["err_interval"]
            print(f"{'':<23}95% bootstrap: loss [{lo:.3f}, {hi:.3f}]   error [{elo:.3f}, {ehi:.3f}]")
    print("\nfitted constants (paper's where stated)")
    for ds, c in all_consts.items():
        p = c["loss (paper objective)"]
        line = ", ".join(f"{k}={v:.4g}" for k, v in p.items())
        paper = PAPER_CONSTANTS.get(ds)
        ref = ("   paper: " + ", ".join(f"{k}={v:g}" for k, v in paper.items())) if paper else ""
        print(f"  {DATASETS[ds]:<11} Eq. 4: {line}; M*={c['M_opt']:.3g}{ref}")
        d = c["loss (scalefit default)"]
        print(f"  {'':<11} Eq. 4, Huber/log: " + ", ".join(f"{k}={v:.4g}" for k, v in d.items()))
        print(f"  {'':<11} Eq. 5: " + ", ".join(f"{k}={v:.4g}" for k, v in c["error"].items()))
        print(f"  {'':<11} largest held-out run / total loss-fit compute = {c['compute_ratio']:.0f}x")
    if args.figures is not None:
        print(f"\nfigures written to {args.figures}/gadre_{{overtrain,downstream}}_<dataset>.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
