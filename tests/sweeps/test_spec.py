"""Sweep specs: expansion, shapes from parameter counts, token rounding, and refused specs."""

from __future__ import annotations

from pathlib import Path

import pytest

from scalefit.errors import SweepError
from scalefit.proxy.config import ModelConfig, make_config, run_id
from scalefit.proxy.counting import count_params, flops_per_token
from scalefit.sweeps.presets import PRESETS, get_preset
from scalefit.sweeps.shapes import shape_for_params
from scalefit.sweeps.spec import expand, load_spec, parse_spec, spec_to_toml, with_overrides

FIXED = {"corpus": "pydoc", "seq_len": 32, "batch_size": 4, "n_heads": 2}


def spec(*grids, **fixed):
    return parse_spec({"name": "t", "fixed": {**FIXED, **fixed}, "grid": list(grids)})


def test_grid_is_a_product_in_written_order_and_union_of_grids():
    runs = expand(spec({"shape": [[16, 1], [32, 2]], "lr": [1e-3, 2e-3, 4e-3]}, {"width": 8, "depth": 1}))
    assert len(runs) == 7
    assert [(r.config.width, r.config.lr) for r in runs[:3]] == [(16, 1e-3), (16, 2e-3), (16, 4e-3)]
    assert runs[-1].where == "grid #2" and runs[-1].config.width == 8
    assert len({r.run_id for r in runs}) == 7
    for r in runs:  # the planned id is the trainer's id of the same config
        assert r.run_id == run_id(r.config)
        assert r.n_params == count_params(r.config.model_config())["n_params"]


def test_lengths_rounded_to_whole_batches():
    batch = 4 * 32
    (tok,) = expand(spec({"shape": [[16, 1]], "tokens": 1000}))
    assert tok.n_tokens == round(1000 / batch) * batch
    (m,) = expand(spec({"shape": [[16, 1]], "M": 2}))
    assert m.n_tokens % batch == 0 and abs(m.n_tokens - 2 * m.n_params) <= batch / 2
    (c,) = expand(spec({"shape": [[16, 1]], "flops": 1e9}))
    fpt = flops_per_token(c.config.model_config())
    assert abs(c.n_tokens - 1e9 / fpt) <= batch / 2 and c.flops == fpt * c.n_tokens
    (default,) = expand(spec({"shape": [[16, 1]]}))  # no length: the trainer's default M = 20
    assert abs(default.n_tokens - 20 * default.n_params) <= batch / 2


def test_isoflop_budget_shared_across_sizes():
    runs = expand(spec({"shape": [[16, 1], [32, 2], [64, 2]], "flops": [1e10]}))
    assert all(abs(r.flops / 1e10 - 1) < 0.05 for r in runs)
    assert runs[0].n_tokens > runs[1].n_tokens > runs[2].n_tokens


@pytest.mark.parametrize("target", [3e4, 1e5, 4e5, 2e6, 3e7])
def test_shape_for_params_hits_the_target(target):
    base = ModelConfig(seq_len=64, n_heads=4)
    width, depth = shape_for_params(target, base)
    n = count_params(ModelConfig(seq_len=64, n_heads=4, width=width, depth=depth))["n_params"]
    assert abs(n / target - 1) < 0.2
    assert width % 8 == 0 and width % 4 == 0 and depth >= 1


def test_params_axis_grows_monotonically():
    runs = expand(spec({"params": [2e4, 8e4, 3e5]}))
    sizes = [r.n_params for r in runs]
    assert sizes == sorted(sizes) and abs(sizes[-1] / 3e5 - 1) < 0.2


@pytest.mark.parametrize(
    ("grid", "fixed", "message"),
    [
        ({"shape": [[16, 1]], "learning_rate": [1e-3]}, {}, "unknown key 'learning_rate'; allowed keys:"),
        ({"shape": [[16, 1]], "lr": []}, {}, "lr is an empty list"),
        ({"shape": [[16, 1]], "lr": [1e-3, 1e-3]}, {}, "lr lists 0.001 more than once"),
        ({"shape": [[16, 1]], "tokens": 1e4, "M": 5}, {}, "give one of tokens, M, flops"),
        ({"shape": [[16, 1]], "width": 32}, {}, "give the model size one way"),
        ({"shape": [16, 1]}, {}, "shape must be a list of [width, depth] lists"),
        ({"shape": [[16, 1]], "device": ["cpu", "cuda"]}, {}, "does not change what a run computes"),
        ({"shape": [[16, 1]], "n_tokens": 1e4}, {}, "use tokens"),
        ({"shape": [[16, 1]], "tokens": 10}, {}, "less than one batch"),
        ({"shape": [[17, 1]]}, {}, "not divisible by n_heads"),
        ({"params": [10.0]}, {}, "too small for this model family"),
        ({"width": [16, 32]}, {"params": 1e5}, "sets width/depth while [fixed] sets params"),
        ({"shape": [[16, 1]], "aspect": 8}, {}, "aspect only applies to params"),
        ({"shape": [[16, 1]], "lr": [-1.0]}, {}, "lr must be a positive number"),
        ({"shape": [[16, 1]], "schedule": ["cosine", "step"]}, {}, "unknown schedule 'step'"),
    ],
)
def test_nonsense_specs_are_refused_with_a_clear_message(grid, fixed, message):
    with pytest.raises(SweepError, match=None) as err:
        expand(spec(grid, **fixed))
    assert message in str(err.value)


def test_duplicate_runs_across_grids_are_refused():
    with pytest.raises(SweepError, match="are the same run"):
        expand(spec({"shape": [[16, 1]], "lr": [1e-3, 2e-3]}, {"shape": [[16, 1]], "lr": 2e-3}))
    with pytest.raises(SweepError, match="are the same run"):  # two targets that make the same shape
        expand(spec({"params": [5.0e4, 5.01e4]}))


def test_unknown_top_level_key_and_lists_in_fixed():
    with pytest.raises(SweepError, match="unknown top-level key 'grids'"):
        parse_spec({"grids": []})
    with pytest.raises(SweepError, match="lists belong in a"):
        parse_spec({"fixed": {"lr": [1e-3, 2e-3]}})


def test_overrides_set_fixed_options_but_not_grid_axes():
    s = spec({"shape": [[16, 1]], "lr": [1e-3, 2e-3]})
    (a, b) = expand(with_overrides(s, {"seed": 3, "tokens": 256.0}))
    assert a.config.seed == 3 and a.n_tokens == 256
    with pytest.raises(SweepError, match="varies it"):
        with_overrides(s, {"lr": 1e-2})
    with pytest.raises(SweepError, match="varies it"):
        with_overrides(s, {"width": 64})  # the grid sets the shape


def test_toml_round_trip(tmp_path):
    s = get_preset("overtrain-cpu")
    path = tmp_path / "s.toml"
    path.write_text(spec_to_toml(s))
    assert [r.run_id for r in expand(load_spec(path))] == [r.run_id for r in expand(s)]


def test_load_spec_errors(tmp_path):
    with pytest.raises(SweepError, match="not found"):
        load_spec(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[fixed\n")
    with pytest.raises(SweepError, match="invalid TOML"):
        load_spec(bad)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_expands(name):
    runs = expand(get_preset(name))
    assert len(runs) >= 3
    if name.endswith("-cpu"):  # small enough for a CPU core; width-transfer-cpu's muP width 512 (6.7M params, ~6
        limit = 1e7 if name == "width-transfer-cpu" else 2e6  # min a run) gives the lr-transfer fit a fifth width
        assert all(r.config.device == "cpu" and 1e4 <= r.n_params <= limit for r in runs)


def test_presets_cover_what_their_laws_need():
    chin = expand(get_preset("chinchilla-cpu"))
    assert len({r.n_params for r in chin}) >= 4 and len({round(r.flops, -9) for r in chin}) >= 4
    over = expand(get_preset("overtrain-cpu"))
    ms = [r.n_tokens / r.n_params for r in over]
    assert min(ms) < 6 and max(ms) > 600
    lrt = expand(get_preset("lr-transfer-cpu"))
    assert {r.config.parametrization for r in lrt} == {"sp", "mup"} and len({r.config.lr for r in lrt}) >= 6
    assert len({r.config.width for r in lrt}) >= 3
    sched = expand(get_preset("schedules-cpu"))
    assert {r.config.schedule for r in sched} >= {"cosine", "wsd", "constant"}
    assert len({r.n_params for r in sched}) == 1


def test_make_config_agrees_with_expansion():
    (run,) = expand(spec({"shape": [[16, 1]], "tokens": 512, "lr": 2e-3}))
    direct = make_config(overrides={**FIXED, "width": 16, "depth": 1, "n_tokens": 512, "lr": 2e-3, "name": "t"})
    assert run_id(direct) == run.run_id


ROOT = Path(__file__).resolve().parents[2]
COMMITTED = sorted(p.name for p in (ROOT / "runs").glob("*-cpu") if (p / "sweep.json").is_file())


@pytest.mark.parametrize("name", COMMITTED)
def test_each_committed_sweep_is_its_preset_today(name):
    # the committed runs/<preset> holds exactly the runs its preset plans with today's defaults and rules: a default
    # changed after a sweep ran (a muP rule, say) moves the planned ids, and this catches the stale folder
    import json

    from scalefit.sweeps.store import read_manifest

    folder = ROOT / "runs" / name
    planned = [r.run_id for r in expand(get_preset(name))]
    finished = {p.parent.name for p in folder.glob("*/result.json")}
    assert set(planned) == finished, sorted(set(planned) ^ finished)
    assert [s["source"] for s in read_manifest(folder)["specs"]] == [f"preset:{name}"]
    assert all(json.loads((folder / rid / "result.json").read_text())["status"] == "ok" for rid in planned)
