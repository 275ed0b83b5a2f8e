"""Fuzzed option values for every command that fits, predicts, plans, plots, simulates or plans a sweep (issue 28):
each run keeps the contract of :mod:`tests.fuzz.harness`."""

from __future__ import annotations

import shutil

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalefit.errors import ConfigError
from scalefit.laws import get_law
from scalefit.laws.simulate import simulate
from tests.fuzz.conftest import budget
from tests.fuzz.harness import check_cli, sandbox
from tests.fuzz.strategies import COLUMNS, SYMBOLS, filters, number_text, numbers, pairs, text

TRUE = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A run log (two datasets), a calibrated fit with a small bootstrap, a grouped fit and a frontier."""
    import scalefit

    folder = tmp_path_factory.mktemp("fuzz-base")
    frame = simulate(get_law("chinchilla"), TRUE, n_points=24, noise=0.01, seed=3)
    frame["dataset"] = ["c4", "rpj"] * 12
    frame["run_id"] = [f"r{i}" for i in range(24)]
    frame.to_csv(folder / "runs.csv", index=False)
    scalefit.fit("chinchilla", frame, bootstrap=4, seed=1).save(folder / "fit.json")
    scalefit.fit("chinchilla", frame, group_by="dataset", calibrate=False).save(folder / "grouped.json")
    scalefit.fit("isoflop", frame).save(folder / "frontier.json")
    return folder


def copy(base, work, *names):
    for name in names:
        shutil.copy(base / name, work / name)


def at_options():
    symbol = st.sampled_from(SYMBOLS)
    values = st.lists(number_text(), min_size=1, max_size=3).map(",".join)
    return st.lists(st.builds(lambda s, v: ["--at", f"{s}={v}"], symbol, values), min_size=0, max_size=4).map(
        lambda items: [x for item in items for x in item])


@given(at=at_options(), fit=st.sampled_from(["fit.json", "grouped.json", "frontier.json"]),
       level=st.one_of(st.none(), number_text()), interval=st.sampled_from([None, "prediction", "mean", "none", "x"]),
       group=st.sampled_from([None, "c4", "rpj", "zz", ""]), as_json=st.booleans())
@budget(1.0)
def test_predict_options(base, at, fit, level, interval, group, as_json):
    with sandbox() as (root, work):
        copy(base, work, fit)
        args = ["predict", fit, *at]
        args += [] if level is None else ["--level", level]
        args += [] if interval is None or fit == "frontier.json" else ["--interval", interval]
        args += [] if group is None or fit == "frontier.json" else ["--group", group]
        check_cli(args + (["--json"] if as_json else []), work, root)


@given(compute=st.lists(number_text(), min_size=0, max_size=3), fit=st.sampled_from(["fit.json", "frontier.json"]),
       extra=st.lists(st.sampled_from([["--tokens-per-param", "20"], ["--tokens-per-param", "-1"], ["--group", "c4"],
                                       ["--level", "2"], ["--level", "0.9"]]), max_size=2))
@budget(0.5)
def test_plan_options(base, compute, fit, extra):
    with sandbox() as (root, work):
        copy(base, work, fit)
        args = ["plan", fit, "--json"] + [x for c in compute for x in ("--compute", c)]
        check_cli(args + [x for e in extra for x in e], work, root)


@given(where=st.one_of(st.none(), filters()), maps=st.lists(pairs(SYMBOLS, st.sampled_from(COLUMNS + ["nope", ""])),
                                                           max_size=2),
       group_by=st.sampled_from([None, "dataset", "run_id", "nope", "loss"]),
       seed=st.one_of(st.none(), st.sampled_from(["-1", "0", "7", "99999999999999999999", "1.5"])),
       target=st.sampled_from([None, "loss", "dataset", "nope"]),
       more=st.lists(st.sampled_from([["--space", "raw"], ["--space", "evil"], ["--loss", "mse"], ["--delta", "nan"],
                                      ["--delta", "-1"], ["--reduce", "last"], ["--run", "run_id"],
                                      ["--skip-first", "1.5"], ["--smooth", "0"], ["--bootstrap", "-3"],
                                      ["--fix", "E=nan"], ["--fix", "alpha=-1"], ["--param", "E=1:0:0.5"],
                                      ["--weight", "loss"], ["--opt", "x=1"]]), max_size=2))
@budget(0.25)
def test_fit_options(base, where, maps, group_by, seed, target, more):
    with sandbox() as (root, work):
        copy(base, work, "runs.csv")
        args = ["fit", "chinchilla", "runs.csv", "--out", "out.json"]
        args += [] if where is None else ["--where", where]
        args += [x for m in maps for x in ("--map", m)]
        args += [] if group_by is None else ["--group-by", group_by]
        args += [] if seed is None else ["--seed", seed, "--bootstrap", "2"]
        args += [] if target is None else ["--target", target]
        check_cli(args + [x for m in more for x in m], work, root, outputs=("out.json",))


@given(law=st.sampled_from(["chinchilla", "power", "kaplan", "nope"]),
       params=st.lists(pairs(["E", "A", "B", "alpha", "beta", "a", "b", "c", "Q"]), max_size=6).map(",".join),
       noise=st.one_of(st.none(), number_text()), points=st.one_of(st.none(), st.integers(-3, 300).map(str)),
       seed=st.one_of(st.none(), st.sampled_from(["-1", "0", "3", "1e3"])))
@budget(0.5)
def test_simulate_options(law, params, noise, points, seed):
    with sandbox() as (root, work):
        args = ["simulate", law, "--params", params, "--out", "s.csv"]
        args += [] if noise is None else ["--noise", noise]
        args += [] if points is None else ["--points", points]
        args += [] if seed is None else ["--seed", seed]
        check_cli(args, work, root, outputs=("s.csv",))


@given(good=st.booleans(), noise=numbers(), seed=st.integers(-5, 5),
       params=st.dictionaries(st.sampled_from(["E", "A", "B", "alpha", "beta", "Q"]), numbers(), max_size=6))
@budget(1.0)
def test_simulate_library_never_writes_bad_losses(good, noise, seed, params):
    from scalefit.errors import ScalefitError

    try:
        frame = simulate(get_law("chinchilla"), {**TRUE, **params} if good else params, n_points=8, noise=noise,
                         seed=seed)
    except (ScalefitError, TypeError, ValueError) as exc:
        assert isinstance(exc, ScalefitError), repr(exc)
        return
    assert (frame["loss"] > 0).all() and frame.notna().all().all()
    import numpy as np

    assert np.isfinite(frame.to_numpy(dtype=float)).all()


@given(dpi=st.one_of(st.none(), st.integers(-10, 5000).map(str), number_text()),
       fit=st.sampled_from(["fit.json", "frontier.json"]),
       out=st.sampled_from(["p.png", "p.svg", "p.pdf", "p.xyz", "p", "sub/p.png"]),
       to=st.one_of(st.none(), number_text()))
@budget(0.15)
def test_plot_options(base, dpi, fit, out, to):
    with sandbox() as (root, work):
        copy(base, work, fit)
        args = ["plot", fit, "--out", out] + ([] if dpi is None else ["--dpi", dpi])
        args += [] if to is None or fit != "fit.json" else ["--to", to]
        check_cli(args, work, root, outputs=(out,), finite_stdout=False)


SPEC_KEYS = ["width", "depth", "tokens", "M", "flops", "lr", "seed", "batch_size", "seq_len", "shape", "params",
             "n_heads", "schedule", "parametrization", "device", "corpus", "nope", "threads", "name"]
toml_value = st.one_of(st.integers(-3, 200), st.floats(allow_nan=False, allow_infinity=False, width=32),
                       st.sampled_from(["1e30", "nan", "inf", "-1", "0", "[]", "[1e30]", "[[64, 2]]", "[[0, 0]]",
                                        '"cosine"', '"x"', '"../x"', "{a = 1}", "true", "[64, 64]", "[1, 2, 3]"]))


def toml_line(key, value):
    return f"{key} = {value if isinstance(value, str) else repr(value).replace('inf', '1e999')}"


@given(fixed=st.dictionaries(st.sampled_from(SPEC_KEYS), toml_value, max_size=6),
       grid=st.dictionaries(st.sampled_from(SPEC_KEYS), toml_value, max_size=3),
       top=st.sampled_from(["", "fixed = 5\n", 'name = "x"\n', "grid = 3\n", "nope = 1\n", "[[grid]]\n"]),
       threads=st.one_of(st.none(), st.integers(-5, 4).map(str)))
@budget(0.75)
def test_sweep_dry_run_specs(fixed, grid, top, threads):
    text_ = top + "[fixed]\n" + "\n".join(toml_line(k, v) for k, v in fixed.items()) + "\n"
    text_ += ("[[grid]]\n" + "\n".join(toml_line(k, v) for k, v in grid.items()) + "\n") if grid else ""
    with sandbox() as (root, work):
        (work / "spec.toml").write_text(text_)
        args = ["sweep", "spec.toml", "--dry-run", "--out", "sw"] + ([] if threads is None else ["--threads", threads])
        check_cli(args, work, root, finite_stdout=False)


CONFIG_KEYS = ["lr", "grad_clip", "seed", "n_tokens", "width", "depth", "batch_size", "warmup_frac", "decay_frac",
               "min_lr_ratio", "threads", "init_std", "weight_decay", "z_loss", "schedule", "tied_embeddings", "nope",
               "eval_tokens", "seq_len", "n_heads", "tokens_per_param", "diverge_factor", "peak_flops"]


@given(sets=st.lists(pairs(CONFIG_KEYS, st.one_of(number_text(), text(8))), max_size=4))
@budget(1.0)
def test_train_config_values(sets):
    """``train --set`` values: a ConfigError, or a config whose every number is finite (checked through the library,
    since a valid config would start training)."""
    import dataclasses
    import math

    from scalefit.proxy.config import make_config

    try:
        cfg = make_config(sets=sets)
    except ConfigError:
        return
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if isinstance(v, float):
            assert math.isfinite(v), (f.name, v)
        if isinstance(v, int) and not isinstance(v, bool):
            assert v >= 0, (f.name, v)


@given(holdout=filters(), folds=st.one_of(st.none(), st.integers(-2, 30).map(str)))
@budget(0.1)
def test_backtest_options(base, holdout, folds):
    with sandbox() as (root, work):
        copy(base, work, "runs.csv")
        args = ["backtest", "chinchilla", "runs.csv", "--json"]
        args += ["--holdout", holdout] if folds is None else ["--folds", folds]
        check_cli(args, work, root)


def test_text_strategy_is_used():  # keep the import list honest for ruff
    assert text(3) is not None
