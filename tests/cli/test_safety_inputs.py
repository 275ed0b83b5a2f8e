"""Bounded inputs (issue 28): a corpus is a regular file or a folder of them, within a size cap, refused up front
(``train --corpus /dev/zero``, a spec's ``corpus = "/dev/zero"``, ``sweep --dry-run``); option values that would
build huge arrays (``simulate --points``, ``predict --steps``, ``plan --compare-schedules --steps``) are checked
against the one work budget before any work. Each is one line on stderr, exit 1, nothing written."""

from __future__ import annotations

import json
import os

import pytest

from scalefit.proxy import data
from scalefit.proxy.data import corpus_problem
from tests.safety import refused

TINY = {"seq_len": 32, "batch_size": 4, "n_heads": 2, "cloze_items": 0, "eval_tokens": 256, "n_evals": 2,
        "tokens": 512, "device": "cpu", "width": 16, "depth": 1}


@pytest.fixture
def never_read(monkeypatch):
    """A regression must fail here, not read /dev/zero until the machine runs out of memory."""
    def boom(*_a, **_k):
        raise AssertionError("the corpus was read before it was checked")

    monkeypatch.setattr(data, "_documents", boom)
    monkeypatch.setattr(data, "_bin_corpus", boom)
    data.load_corpus.cache_clear()


@pytest.fixture
def specials(tmp_path):
    os.mkfifo(tmp_path / "fifo.txt")
    (tmp_path / "zero.txt").symlink_to("/dev/zero")
    (tmp_path / "zero.bin").symlink_to("/dev/zero")
    (tmp_path / "withfifo").mkdir()
    (tmp_path / "withfifo" / "a.txt").write_text("hello\nworld\n")
    os.mkfifo(tmp_path / "withfifo" / "b.txt")
    return tmp_path


CORPORA = [("/dev/zero", "is a character device"), ("/dev/urandom", "is a character device"),
           ("fifo.txt", "is a FIFO"), ("zero.txt", "is a character device"), ("zero.bin", "is a character device"),
           ("withfifo", "a FIFO")]


@pytest.mark.parametrize("corpus,found", CORPORA)
def test_train_refuses_a_special_corpus_before_reading_it(specials, never_read, corpus, found):
    line = refused(["train", "--corpus", corpus, "--out", "runs", "--set", "width=16", "--set", "depth=1"],
                   specials, contains=found)
    assert f"corpus {corpus!r}" in line and "a corpus is" in line


def _spec(folder, corpus: str) -> str:
    body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in {**TINY, "corpus": corpus}.items())
    (folder / "s.toml").write_text(f'name = "s"\n[fixed]\n{body}\n[[grid]]\nlr = [1e-3, 2e-3]\n')
    return "s.toml"


@pytest.mark.parametrize("dry", [True, False])
@pytest.mark.parametrize("corpus", ["/dev/zero", "zero.txt", "withfifo"])
def test_a_sweep_spec_with_a_special_corpus_is_refused_up_front(specials, never_read, dry, corpus):
    spec = _spec(specials, corpus)
    args = ["sweep", spec, "--out", "out", "--workers", "0", *(["--dry-run"] if dry else [])]
    refused(args, specials, contains=f"s.toml: corpus {corpus!r}")
    assert not (specials / "out").exists()


def test_an_oversized_text_corpus_is_refused_with_the_way_out(tmp_path, monkeypatch, never_read):
    monkeypatch.setattr(data, "MAX_TEXT_BYTES", 1000)
    (tmp_path / "big.txt").write_text("x" * 1001)
    (tmp_path / "folder").mkdir()
    for i in range(3):
        (tmp_path / "folder" / f"{i}.txt").write_text("y" * 400)
    line = refused(["train", "--corpus", "big.txt", "--out", "runs"], tmp_path, contains="more than the 0.00 GiB")
    assert "pre-tokenize it into a .bin" in line
    refused(["train", "--corpus", "folder", "--out", "runs"], tmp_path, contains="train.bin and val.bin")


def test_usable_corpora_pass_the_check(tmp_path):
    (tmp_path / "a.txt").write_text("hello\nworld\n")
    (tmp_path / "ids.bin").write_bytes(b"\x01\x00" * 10)
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "a.txt").write_text("x")
    (tmp_path / "link.txt").symlink_to("a.txt")
    for spec in ("kjv", "pydoc", "a.txt", "ids.bin", "folder", "link.txt", "not-here-yet.txt"):
        assert corpus_problem(str(tmp_path / spec) if spec not in ("kjv", "pydoc") else spec) is None, spec


# --------------------------------------------------------------------------- the work budget

PARAMS = "E=1.69,A=406.4,B=410.7,alpha=0.34,beta=0.28"


@pytest.fixture
def curve_files(tmp_path):
    import numpy as np

    from scalefit.fitting.result import FitResult

    params = {"L0": 3.0, "A": 0.4, "alpha": 0.5, "C": 0.05}
    plain = FitResult(law="lr-annealing", law_options={"lam": 0.999}, params=params, stats={}, search={}, data={})
    (tmp_path / "curve.json").write_text(plain.to_json())
    rng = np.random.default_rng(0)
    boot = {k: list(v * (1 + 0.01 * rng.standard_normal(200))) for k, v in params.items()}
    (tmp_path / "boot.json").write_text(FitResult(law="lr-annealing", law_options={"lam": 0.999}, params=params,
                                                  stats={}, search={}, data={}, bootstrap=boot).to_json())
    return tmp_path


@pytest.fixture
def no_work(monkeypatch):
    """A regression must fail here, not build a billion-step schedule or point table."""
    import scalefit.laws.simulate as sim
    import scalefit.planning.curves as curves

    def boom(*_a, **_k):
        raise AssertionError("the work started before the budget check")

    monkeypatch.setattr(curves, "lr_multiplier", boom)
    monkeypatch.setattr(sim, "_isoflop", boom)


@pytest.mark.parametrize("points", ["10000000000", "5000000"])
def test_simulate_points_beyond_the_budget_are_one_line(tmp_path, no_work, points):
    line = refused(["simulate", "chinchilla", "--params", PARAMS, "--points", points, "--out", "runs.csv"], tmp_path,
                   contains=f"--points {int(points):,}: it needs about")
    assert "use --points 4,194,304 or fewer" in line


@pytest.mark.parametrize("args,found", [
    (["predict", "curve.json", "--schedule", "cosine", "--steps", "1000000000", "--peak-lr", "1e-3"],
     "--steps 1,000,000,000: it needs about 44.7 GiB of memory"),
    (["predict", "curve.json", "--schedule", "wsd", "--steps", "30000000", "--peak-lr", "1e-3"],
     "30,000,000 steps one at a time"),
    (["plan", "curve.json", "--compare-schedules", "--steps", "1000000000", "--peak-lr", "1e-3"],
     "--steps 1,000,000,000: it needs about"),
    (["plan", "curve.json", "--compare-schedules", "--steps", "2000000", "--peak-lr", "1e-3"],
     "30,000,000 steps one at a time"),  # 15 schedules (12 WSD decay fractions) of 2M updates
])
def test_schedule_steps_beyond_the_budget_are_one_line_before_any_work(curve_files, no_work, args, found):
    line = refused(args, curve_files, contains=found)
    assert "or fewer" in line


def test_a_bootstrapped_curve_counts_its_samples_in_the_budget(curve_files):
    """200 bootstrap fits each predicting 500,000 updates: over the budget, refused after the (cheap) schedule."""
    line = refused(["predict", "boot.json", "--schedule", "cosine", "--steps", "500000", "--peak-lr", "1e-3"],
                   curve_files, contains="--steps 500,000: it needs about")
    assert "or fewer (the fit's 200 bootstrap samples each predict every update)" in line


def test_within_the_budget_the_work_is_done(curve_files):
    from scalefit.fitting.result import FitResult
    from scalefit.laws import get_law
    from scalefit.laws.simulate import simulate
    from scalefit.planning.lr_annealing import compare_schedules

    assert len(simulate(get_law("chinchilla"), {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28},
                        n_points=5000)) == 5000
    fit = FitResult.load(curve_files / "curve.json")
    assert compare_schedules(fit, steps=2000, peak_lr=1e-3).steps == 2000


def test_running_out_of_memory_anyway_is_one_line_not_a_traceback(tmp_path, monkeypatch):
    import scalefit.laws.simulate as sim

    def exhausted(*_a, **_k):
        raise MemoryError

    monkeypatch.setattr(sim, "simulate", exhausted)
    line = refused(["simulate", "chinchilla", "--params", PARAMS, "--out", "runs.csv"], tmp_path,
                   contains="error: out of memory")
    assert "internal error" not in line and "smaller" in line
