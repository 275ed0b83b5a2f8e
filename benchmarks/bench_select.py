"""Does `select` pick the law that generated the data? The issue-13 acceptance benchmark.

Each case draws an IsoFLOP-style grid of runs (N, D; C = 6ND), evaluates one generating library law at
seeded parameters near published values with 1% log-normal noise, and splits off a test fold: the top 20% of
runs along N (even seeds) or D (odd seeds). ``select`` sees only the other 80% (its own folds extrapolate
along the same symbol) and chooses among the generating laws x {huber, mse}. A case succeeds when the winner
is the generating law, or when the winner's error on the test fold (RMSLE, fitted on the 80%) is within 10%
of the generating law's (fitted on the same rows with the default robust objective). Prints the confusion
table (generating law x chosen law) and the success rate; acceptance is >= 90% of 50 cases.

Case families beyond that ``isoflop`` one (issue 25: logs shaped like other people's), each judged alone:

- ``ties``: six model sizes with several runs each, the largest holding 30% of the rows (many runs per size);
  the test fold is the largest size, ``select`` folds the other five sizes between distinct values;
- ``negative``: a unigram-normalised loss (negative) from the vocabulary law of Tao et al. 2024 or one of its
  two nested reductions (no vocabulary term, no data term), additive noise 0.01; candidates are those three;
  the test fold is the top 20% along N_nv (even seeds) or D (odd seeds); errors in RMSE;
- ``multi``: one log with three target columns from chinchilla, kaplan and power(x=N) on one grid, selected in
  one ``select_targets`` call; each target is a case.

    python benchmarks/bench_select.py            # every family (isoflop: 10 seeds x 5 laws = 50 cases; minutes)
    python benchmarks/bench_select.py --family ties,negative --seeds 4
    python benchmarks/bench_select.py --quick    # 1 seed per family, smaller logs: a smoke test (exit 0)
    python benchmarks/bench_select.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import _record
import numpy as np
import pandas as pd

# generating law -> (law options, parameters near published values)
LAWS = {
    "chinchilla": ({}, dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)),
    "kaplan": ({}, dict(N_c=8.8e13, D_c=5.4e13, alpha_N=0.076, alpha_D=0.095)),
    "overtrain": ({}, dict(E=1.84, a=212.0, b=367.0, eta=0.136)),
    "power": ({"x": "N"}, dict(E=1.8, A=400.0, alpha=0.34)),
    "alabdulmohsin-m2": ({"x": "D"}, dict(beta=400.0, c=-0.28, eps_inf=1.8)),
}
NOISE, TEST_SHARE, TOLERANCE = 0.01, 0.2, 0.10
FAMILIES = ("isoflop", "ties", "negative", "multi")
TIE_SIZES, TIE_COUNTS = (1e8, 2.2e8, 4.6e8, 1e9, 2.2e9, 4.6e9), (7, 7, 7, 7, 7, 15)  # largest: 15 of 50 = 30%
# the vocabulary law (Tao et al. 2024) and its two nested reductions, as candidates named by their formula
VOCAB_TRUE = dict(E=5.5, A1=1.83 * 1e6 ** 0.45, alpha1=0.45, A2=0.2 * 1e6 ** 0.67, alpha2=0.67, B=2.12 * 1e9 ** 0.45,
                  beta=0.45)
_P = {"E": "E=5:-50:50", "A1": "A1=1e3:0:1e9", "alpha1": "alpha1=0.4:0:3", "A2": "A2=1e3:0:1e9",
      "alpha2": "alpha2=0.5:0:3", "B": "B=1e4:0:1e12", "beta": "beta=0.4:0:3"}
NEGATIVE = {
    "vocab": ("vocab", {}),
    "no-vocab-term": ("expr", {"formula": "-E + A1/N_nv**alpha1 + B/D**beta",
                               "params": [_P[k] for k in ("E", "A1", "alpha1", "B", "beta")]}),
    "no-data-term": ("expr", {"formula": "-E + A1/N_nv**alpha1 + A2/N_v**alpha2",
                              "params": [_P[k] for k in ("E", "A1", "alpha1", "A2", "alpha2")]}),
}
MULTI = ("chinchilla", "kaplan", "power")  # the generating law of each target column of a multi-target log


def make_case(name: str, seed: int, n_points: int = 60):
    """(runs DataFrame with a loss from law ``name``, the test-split symbol, the parameters used)."""
    from scalefit.laws import get_law
    from scalefit.laws.simulate import simulate
    from scalefit.runs import RunTable, resolve

    rng = np.random.default_rng(seed * 1000 + sorted(LAWS).index(name))
    options, params = LAWS[name]
    law = get_law(name, **options)
    params = {k: v * float(np.exp(0.08 * rng.normal())) for k, v in params.items()}
    grid = simulate(get_law("chinchilla"), LAWS["chinchilla"][1], n_points=n_points, noise=0.0, seed=seed)
    x = resolve(RunTable.from_frame(grid), law.inputs).values
    grid["loss"] = law(x, params) * np.exp(NOISE * rng.normal(size=len(grid)))
    grid.insert(0, "run_id", [f"{name}-{seed}-{i:02d}" for i in range(len(grid))])
    return grid, ("N" if seed % 2 == 0 else "D"), params


def _test_rmsle(law, objective: str, train, test, target: str = "loss", metric: str = "rmsle") -> float:
    from scalefit.fitting import fit_law
    from scalefit.fitting.scores import scores
    from scalefit.fitting.select import OBJECTIVES
    from scalefit.runs import RunTable, resolve

    kw = {**OBJECTIVES[objective], **({"space": "raw"} if metric == "rmse" else {})}
    fitted = fit_law(law, train, target=target, calibrate=False, **kw)
    m = {law.target: target}
    res = resolve(RunTable.from_frame(test), [*fitted.law_spec.inputs, law.target], mapping=m)
    pred = fitted.predict({s: res.values[s] for s in fitted.law_spec.inputs})
    return scores(res.values[law.target], pred)[metric]


def _law_of(entry: dict):
    from scalefit.fitting.api import as_law

    return as_law(entry["law"], entry["law_options"])


def _judge(name: str, gen_law, win: dict, objective_ok: bool, train, test, target="loss", metric="rmsle") -> tuple:
    """(chosen test error, generating law's test error, success): the winner is the generating law, or its test
    error (fitted on the training rows) is within TOLERANCE of the generating law's."""
    gen = _test_rmsle(gen_law, "huber", train, test, target, metric)
    same = _law_of(win).name == gen_law.name and dict(_law_of(win).options) == dict(gen_law.options)
    got = gen if same and objective_ok else _test_rmsle(_law_of(win), win["objective"], train, test, target, metric)
    return got, gen, bool(same or got <= (1 + TOLERANCE) * gen)


def make_ties_case(name: str, seed: int):
    """Six sizes, runs at 5-100 tokens per parameter, the largest size holding 30% of the rows."""
    from scalefit.laws import get_law
    from scalefit.runs import RunTable, resolve

    rng = np.random.default_rng(seed * 1000 + 7 + sorted(LAWS).index(name))
    options, params = LAWS[name]
    law = get_law(name, **options)
    params = {k: v * float(np.exp(0.08 * rng.normal())) for k, v in params.items()}
    n = np.repeat(TIE_SIZES, TIE_COUNTS)
    tpp = np.concatenate([np.geomspace(5, 100, k) for k in TIE_COUNTS]) * np.exp(0.1 * rng.normal(size=len(n)))
    grid = pd.DataFrame({"n_params": n, "n_tokens": n * tpp})
    grid["flops"] = 6 * grid["n_params"] * grid["n_tokens"]
    x = resolve(RunTable.from_frame(grid), law.inputs).values
    grid["loss"] = law(x, params) * np.exp(NOISE * rng.normal(size=len(grid)))
    return grid


def make_negative_case(name: str, seed: int, n_points: int = 60):
    rng = np.random.default_rng(seed * 1000 + 11 + sorted(NEGATIVE).index(name))
    df = pd.DataFrame({"N_nv": np.exp(rng.uniform(np.log(3e7), np.log(3e9), n_points)),
                       "N_v": np.exp(rng.uniform(np.log(1e6), np.log(1e8), n_points)),
                       "n_tokens": np.exp(rng.uniform(np.log(1e9), np.log(1e11), n_points))})
    p = {k: v * float(np.exp(0.05 * rng.normal())) for k, v in VOCAB_TRUE.items()}
    t1, t2, t3 = (p["A1"] / df["N_nv"] ** p["alpha1"], p["A2"] / df["N_v"] ** p["alpha2"],
                  p["B"] / df["n_tokens"] ** p["beta"])
    keep = {"vocab": t1 + t2 + t3, "no-vocab-term": t1 + t3, "no-data-term": t1 + t2}[name]
    df["loss"] = -p["E"] + keep + 0.01 * rng.normal(size=n_points)
    return df


def run_case(name: str, seed: int, n_points: int = 60, options: dict | None = None, family: str = "isoflop"):
    """Select on the inner 80%, then score the winner and the generating law on the held-out top 20%."""
    if family != "isoflop":
        return FAMILY_RUNNERS[family](name, seed, n_points, options)
    from scalefit.fitting.select import select
    from scalefit.laws import get_law

    runs, along, _ = make_case(name, seed, n_points)
    column = {"N": "n_params", "D": "n_tokens"}[along]
    cut = float(np.quantile(runs[column], 1 - TEST_SHARE))
    train, test = runs[runs[column] <= cut], runs[runs[column] > cut]
    candidates = [(n, o) for n, (o, _) in LAWS.items()]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = select(train, candidates, along=along, seed=seed, calibrate=False, **(options or {}))
        seconds = time.perf_counter() - t0
        win = sel.winner
        gen_law = get_law(name, **LAWS[name][0])
        gen = _test_rmsle(gen_law, "huber", train, test)
        got = gen if win["law"] == name and win["objective"] == "huber" else \
            _test_rmsle(get_law(win["law"], **win["law_options"]), win["objective"], train, test)
    ok = win["law"] == name or got <= (1 + TOLERANCE) * gen
    return {"family": "isoflop", "law": name, "seed": seed, "along": along, "chosen": win["law"],
            "objective": win["objective"], "test_rmsle_chosen": got, "test_rmsle_generating": gen,
            "success": bool(ok), "seconds": seconds}


def run_ties_case(name: str, seed: int, n_points: int, options: dict | None) -> dict:
    """Select on the five smaller sizes, test on the largest (30% of the rows)."""
    from scalefit.fitting.select import select
    from scalefit.laws import get_law

    runs = make_ties_case(name, seed)
    train, test = runs[runs["n_params"] < TIE_SIZES[-1]], runs[runs["n_params"] == TIE_SIZES[-1]]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = select(train, [(n, o) for n, (o, _) in LAWS.items()], along="N", seed=seed, calibrate=False,
                     **(options or {}))
        seconds = time.perf_counter() - t0
        win = sel.winner
        got, gen, ok = _judge(name, get_law(name, **LAWS[name][0]), win, win["objective"] == "huber", train, test)
    return {"family": "ties", "law": name, "seed": seed, "along": "N", "chosen": win["law"],
            "objective": win["objective"], "folds": list(sel.folds), "test_rmsle_chosen": got,
            "test_rmsle_generating": gen, "success": ok, "seconds": seconds}


def run_negative_case(name: str, seed: int, n_points: int, options: dict | None) -> dict:
    """Select among the vocabulary law and its reductions on a negative target; judged by test RMSE."""
    from scalefit.fitting.api import as_law
    from scalefit.fitting.select import select

    runs = make_negative_case(name, seed, n_points)
    column = "N_nv" if seed % 2 == 0 else "n_tokens"
    cut = float(np.quantile(runs[column], 1 - TEST_SHARE))
    train, test = runs[runs[column] <= cut], runs[runs[column] > cut]
    cands = {label: as_law(*spec) for label, spec in NEGATIVE.items()}
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = select(train, list(cands.values()), along="N_nv" if seed % 2 == 0 else "D", seed=seed,
                     calibrate=False, **(options or {}))
        seconds = time.perf_counter() - t0
        win = sel.winner
        got, gen, ok = _judge(name, cands[name], win, win["objective"] == "huber", train, test, metric="rmse")
    chosen = next(label for label, law in cands.items() if law.name == win["law"] and
                  dict(law.options) == dict(win["law_options"]))
    return {"family": "negative", "law": name, "seed": seed, "along": column, "chosen": chosen,
            "objective": win["objective"], "metric": sel.metric, "test_rmse_chosen": got,
            "test_rmse_generating": gen, "success": ok, "seconds": seconds}


def run_multi_case(_name: str, seed: int, n_points: int, options: dict | None) -> list[dict]:
    """One log, three targets (one per law of MULTI), one select_targets call; one result per target."""
    from scalefit.fitting.select import select_targets
    from scalefit.laws import get_law
    from scalefit.runs import RunTable, resolve

    grid, along, _ = make_case("chinchilla", seed, n_points)
    rng = np.random.default_rng(seed * 1000 + 13)
    for name in MULTI:
        opts, params = LAWS[name]
        law = get_law(name, **opts)
        params = {k: v * float(np.exp(0.08 * rng.normal())) for k, v in params.items()}
        x = resolve(RunTable.from_frame(grid), law.inputs).values
        grid[f"loss_{name}"] = law(x, params) * np.exp(NOISE * rng.normal(size=len(grid)))
    grid = grid.drop(columns=["loss"])
    column = {"N": "n_params", "D": "n_tokens"}[along]
    cut = float(np.quantile(grid[column], 1 - TEST_SHARE))
    train, test = grid[grid[column] <= cut], grid[grid[column] > cut]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sets = select_targets(train, [f"loss_{n}" for n in MULTI], [(n, o) for n, (o, _) in LAWS.items()],
                              along=along, seed=seed, calibrate=False, **(options or {}))
        seconds = (time.perf_counter() - t0) / len(MULTI)
        out = []
        for name in MULTI:
            win = sets[f"loss_{name}"].winner
            got, gen, ok = _judge(name, get_law(name, **LAWS[name][0]), win, win["objective"] == "huber", train,
                                  test, target=f"loss_{name}")
            out.append({"family": "multi", "law": name, "seed": seed, "along": along, "chosen": win["law"],
                        "objective": win["objective"], "test_rmsle_chosen": got, "test_rmsle_generating": gen,
                        "success": ok, "seconds": seconds})
    return out


FAMILY_RUNNERS = {"ties": run_ties_case, "negative": run_negative_case, "multi": run_multi_case}


def _run(args: tuple) -> list[dict]:
    out = run_case(*args)
    return out if isinstance(out, list) else [out]


def family_cases(family: str, seeds, n_points: int, options: dict | None) -> list[tuple]:
    names = {"isoflop": list(LAWS), "ties": list(LAWS), "negative": list(NEGATIVE), "multi": ["multi"]}[family]
    return [(name, seed, n_points, options, family) for seed in seeds for name in names]


def run_all(laws, seeds, n_points: int = 60, jobs: int = 1, options: dict | None = None,
            families: tuple = ("isoflop",)) -> list[dict]:
    """Every (law, seed) case of each family; ``options`` go to ``select`` (default: its defaults)."""
    cases = [c for f in families for c in family_cases(f, seeds, n_points, options)
             if f != "isoflop" or c[0] in laws]
    cases.sort(key=lambda c: c[1])  # seed by seed across the families: a cut-short run has some of each
    if jobs <= 1:
        return [r for c in cases for r in _progress(_run(c))]
    with ProcessPoolExecutor(jobs) as pool:
        return [r for f in as_completed([pool.submit(_run, c) for c in cases]) for r in _progress(f.result())]


def _progress(rows: list[dict]) -> list[dict]:
    """Each case's result as one JSON line on stderr as it completes (a long run can be followed or salvaged)."""
    for r in rows:
        print(json.dumps(r), file=sys.stderr, flush=True)
    return rows


def confusion(results: list[dict]) -> str:
    names = list(dict.fromkeys(r["law"] for r in results))
    chosen = sorted({r["chosen"] for r in results} | set(names), key=lambda n: (n not in names, n))
    width = max(map(len, chosen)) + 2
    lines = ["generating \\ chosen".ljust(20) + "".join(c.rjust(width) for c in chosen) + "   success"]
    for g in names:
        rows = [r for r in results if r["law"] == g]
        if rows:
            lines.append(g.ljust(20) + "".join(str(sum(r["chosen"] == c for r in rows)).rjust(width) for c in chosen)
                         + f"   {sum(r['success'] for r in rows)}/{len(rows)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 seed per family, 40 runs each (smoke test)")
    ap.add_argument("--family", default=",".join(FAMILIES), help=f"comma-separated families of {FAMILIES}")
    ap.add_argument("--seeds", type=int, default=10, help="seeds per generating law (default 10: 50 cases)")
    ap.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1), help="worker processes")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--save", type=Path, help="also write the JSON results, with the commit and the machine's load, "
                    "here (e.g. benchmarks/results/bench_select.json)")
    for opt, kind in (("--folds", int), ("--fraction", float), ("--tolerance", float)):
        ap.add_argument(opt, type=kind, help=f"select's {opt[2:]} (default: select's default)")
    a = ap.parse_args(argv)
    seeds, n_points = (range(1), 40) if a.quick else (range(a.seeds), 60)
    families = tuple(f.strip() for f in a.family.split(",") if f.strip())
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        ap.error(f"--family {unknown[0]!r}: one of {', '.join(FAMILIES)}")
    t0 = time.perf_counter()
    machine = _record.machine(jobs=a.jobs)
    options = {k: v for k in ("folds", "fraction", "tolerance") if (v := getattr(a, k)) is not None}
    results = run_all(list(LAWS), seeds, n_points, a.jobs, options, families)
    rates = {f: float(np.mean([r["success"] for r in results if r["family"] == f])) for f in families}
    summary = {"machine": _record.finish(machine), "seconds": time.perf_counter() - t0, "seeds": len(seeds),
               "success_rate": rates, "cases": results}
    if a.save:
        from scalefit._io import write_json_atomic

        write_json_atomic(a.save, summary)
    if a.json:
        print(json.dumps(summary, indent=2))
    else:
        for f in families:
            rows = [r for r in results if r["family"] == f]
            print(f"\n[{f}]\n" + confusion(rows))
            print(f"success ({f}): {sum(r['success'] for r in rows)}/{len(rows)} = {100 * rates[f]:.1f}% "
                  f"(acceptance >= 90%)")
        print(f"\n{time.perf_counter() - t0:.0f} s wall, {np.mean([r['seconds'] for r in results]):.1f} s per select")
    return 0 if a.quick or min(rates.values()) >= 0.9 else 1  # judged on the full run, not the smoke


if __name__ == "__main__":
    sys.exit(main())
