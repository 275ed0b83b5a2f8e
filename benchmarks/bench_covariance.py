"""Standard errors without a bootstrap: do the 95% Wald intervals (fitting/covariance.py) cover the true parameters,
and how do they compare with the bootstrap?

    python benchmarks/bench_covariance.py            # 200 seeded draws per law and loss (a few minutes on 2 cores)
    python benchmarks/bench_covariance.py --quick    # 20 draws
    python benchmarks/bench_covariance.py --json

Synthetic: ``power`` (L = E + A C^-α; E 1.7, A 50, α 0.12; 30 log-spaced C in 1e17-1e22) and ``chinchilla``
(E 1.8, A 400, B 2000, α 0.34, β 0.28; 6 sizes N in 3e7-3e9 × M = D/N in {5, 10, 20, 40, 80}), lognormal noise
σ = 1%, each fitted with the Huber loss (δ = 1e-3, the default) and with least squares. Reported: the share of
(draw, parameter) pairs whose 95% Wald interval covers the truth (a draw whose optimum lies on a bound has no
Wald interval and counts as a miss). Acceptance (issue 24): 90-99%.

Epoch: the Chinchilla law on Epoch's points (loss < 3.44, Huber δ = 1e-3), the Wald interval of E, α and β
against the 1,000-resample percentile bootstrap: width ratio Wald / bootstrap. Acceptance: within a factor 1.5.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

import numpy as np
import pandas as pd

TRUE = {"power": dict(E=1.7, A=50.0, alpha=0.12), "chinchilla": dict(E=1.8, A=400.0, B=2000.0, alpha=0.34, beta=0.28)}
NOISE = 0.01


def draw(law: str, seed: int) -> pd.DataFrame:
    from scalefit.laws import get_law

    rng = np.random.default_rng(seed)
    if law == "power":
        x = {"C": np.logspace(17, 22, 30)}
    else:
        n, m = np.meshgrid(np.logspace(np.log10(3e7), np.log10(3e9), 6), [5.0, 10.0, 20.0, 40.0, 80.0], indexing="ij")
        x = {"N": n.ravel(), "D": (n * m).ravel()}
    size = len(next(iter(x.values())))
    return pd.DataFrame({**x, "L": get_law(law)(x, TRUE[law]) * np.exp(rng.normal(0.0, NOISE, size))})


def coverage(law: str, loss: str, draws: int) -> dict:
    from scalefit.fitting import fit_law

    hits, none = [], 0
    for seed in range(draws):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            iv = fit_law(law, draw(law, seed), loss=loss, calibrate=False).intervals()
        if not iv:
            none += 1
        hits.append([bool(iv) and iv[k][0] <= v <= iv[k][1] for k, v in TRUE[law].items()])
    h = np.array(hits, dtype=float)
    return {"coverage": float(h.mean()), "per_param": dict(zip(TRUE[law], map(float, h.mean(axis=0)))),
            "draws": draws, "no_wald_interval": none}


def epoch(bootstrap: int) -> dict:
    from scalefit.fitting import fit_law

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wald = fit_law("chinchilla", "dataset:epoch-chinchilla", where="loss < 3.44", calibrate=False)
        boot = fit_law("chinchilla", "dataset:epoch-chinchilla", where="loss < 3.44", calibrate=False,
                       bootstrap=bootstrap, seed=0)
    w, b = wald.intervals(), boot.intervals()
    return {k: {"wald": list(w[k]), "bootstrap": list(b[k]), "width_ratio": (w[k][1] - w[k][0]) / (b[k][1] - b[k][0])}
            for k in ("E", "A", "B", "alpha", "beta")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    draws, boot = (20, 200) if args.quick else (args.draws, args.bootstrap)
    start = time.perf_counter()
    out = {"synthetic": {f"{law}/{loss}": coverage(law, loss, draws) for law in TRUE for loss in ("huber", "mse")},
           "epoch": epoch(boot), "noise": NOISE}
    out["seconds"] = time.perf_counter() - start
    ok_cov = all(0.90 <= v["coverage"] <= 0.99 for v in out["synthetic"].values())
    ok_ep = all(1 / 1.5 <= out["epoch"][k]["width_ratio"] <= 1.5 for k in ("E", "alpha", "beta"))
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for name, v in out["synthetic"].items():
            print(f"{name:18s} 95% Wald coverage {100 * v['coverage']:5.1f}% over {v['draws']} draws "
                  f"({v['no_wald_interval']} with no Wald interval)")
        for k, v in out["epoch"].items():
            print(f"Epoch {k:6s} Wald {v['wald'][0]:.4g}-{v['wald'][1]:.4g}  bootstrap {v['bootstrap'][0]:.4g}-"
                  f"{v['bootstrap'][1]:.4g}  width ratio {v['width_ratio']:.2f}")
        print(f"acceptance: coverage 90-99% {'met' if ok_cov else 'NOT met'}; Epoch within 1.5x "
              f"{'met' if ok_ep else 'NOT met'}")
    return 0 if (ok_cov and ok_ep) or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
