"""TrainConfig layering (defaults -> TOML -> --set), validation errors and stable run ids."""

from __future__ import annotations

import dataclasses

import pytest

from scalefit.errors import ConfigError
from scalefit.proxy.config import TrainConfig, allowed_keys, key_docs, make_config, resolve, run_id
from scalefit.proxy.counting import count_params


def test_layering_defaults_toml_overrides_set(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('[train]\nwidth = 64\nlr = 1\ncorpus = "pydoc"\nn_heads = 2\n')
    cfg = make_config(toml, {"width": 96}, ["lr=0.5", "qk_layernorm=true", "n_tokens=1e6"])
    assert (cfg.width, cfg.lr, cfg.corpus, cfg.qk_layernorm, cfg.n_tokens) == (96, 0.5, "pydoc", True, 1_000_000)
    assert isinstance(cfg.lr, float)
    assert cfg.depth == TrainConfig().depth


@pytest.mark.parametrize(
    "sets, match",
    [
        (["nope=1"], "unknown config key 'nope'.*allowed keys: name, seed, width"),
        (["width=abc"], "expected int"),
        (["width=1.5"], "expected int"),
        (["qk_layernorm=maybe"], "expected bool"),
        (["width"], "key=value"),
        (["parametrization=xp"], "unknown parametrization 'xp'; choose one of sp, mup"),
        (["width=100", "n_heads=3"], "not divisible"),
        (["tokenizer=byte", "vocab_size=512"], "byte tokenizer"),
    ],
)
def test_bad_settings_are_config_errors(sets, match):
    with pytest.raises(ConfigError, match=match):
        make_config(sets=sets)


def test_toml_wrong_type_and_unknown_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('width = "wide"\n')
    with pytest.raises(ConfigError, match="'width'.*must be int"):
        make_config(bad)
    bad.write_text("colour = 1\n")
    with pytest.raises(ConfigError, match="allowed keys"):
        make_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        make_config(tmp_path / "missing.toml")


def test_resolve_tokens_per_param_and_one_batch_minimum():
    cfg = TrainConfig(width=64, n_heads=2, tokens_per_param=10)
    n = count_params(cfg.model_config())["n_params"]
    assert resolve(cfg).n_tokens == 10 * n
    assert resolve(dataclasses.replace(cfg, n_tokens=12345)).n_tokens == 12345
    with pytest.raises(ConfigError, match="less than one batch"):
        resolve(dataclasses.replace(cfg, n_tokens=100))


def test_run_id_is_stable_and_ignores_execution_fields():
    cfg = TrainConfig(width=64, n_heads=2)
    rid = run_id(cfg)
    assert len(rid) == 12 and rid == run_id(TrainConfig(width=64, n_heads=2))
    assert run_id(dataclasses.replace(cfg, name="other", device="cpu", threads=1)) == rid
    assert run_id(dataclasses.replace(cfg, lr=1e-3)) != rid
    # the same run, with its length given as n_tokens instead of tokens_per_param
    assert run_id(dataclasses.replace(cfg, n_tokens=resolve(cfg).n_tokens)) == rid


def test_every_key_has_a_doc_line():
    docs = key_docs()
    assert list(docs) == allowed_keys()
    assert all(docs.values())


def test_mup_with_tied_embeddings_warns_off_base_width():
    import warnings

    import pytest

    from scalefit.errors import ScalefitWarning
    from scalefit.proxy.config import TrainConfig, validate

    with pytest.warns(ScalefitWarning, match="tied embeddings"):
        validate(TrainConfig(parametrization="mup", width=256, base_width=128, n_heads=4, tied_embeddings=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate(TrainConfig(parametrization="mup", width=256, base_width=128, n_heads=4, tied_embeddings=False))
        validate(TrainConfig(parametrization="mup", width=128, base_width=128, n_heads=4, tied_embeddings=True))


def test_tied_embeddings_auto_ties_gpt2_sp_only(tmp_path):
    import warnings

    from scalefit.proxy.config import validate

    sp, mup = TrainConfig(arch="gpt2"), TrainConfig(parametrization="mup", width=256, base_width=128)
    llama = TrainConfig()  # the default layout: untied, as LLaMA and OLMo 2 train
    assert sp.tied_embeddings == "auto" and llama.arch == "llama"
    assert sp.model_config().tied_embeddings is True and mup.model_config().tied_embeddings is False
    assert resolve(sp).tied_embeddings is True and resolve(mup).tied_embeddings is False
    assert llama.model_config().tied_embeddings is False and resolve(llama).tied_embeddings is False
    assert TrainConfig(arch="olmo2").model_config().tied_embeddings is False
    # gpt2 SP run ids are those of the former default (tied), so committed SP runs keep their folders
    assert run_id(sp) == run_id(TrainConfig(arch="gpt2", tied_embeddings=True))
    assert run_id(llama) == run_id(TrainConfig(tied_embeddings=False))
    assert run_id(mup) == run_id(TrainConfig(parametrization="mup", width=256, base_width=128, tied_embeddings=False))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the default under muP does not warn
        validate(mup)
    assert make_config(sets=["tied_embeddings=auto"]).tied_embeddings == "auto"
    assert make_config(sets=["tied_embeddings=false"]).tied_embeddings is False
    toml = tmp_path / "c.toml"
    toml.write_text("tied_embeddings = true\n")
    assert make_config(toml).tied_embeddings is True
    with pytest.raises(ConfigError, match="tied_embeddings"):
        make_config(sets=["tied_embeddings=maybe"])
    toml.write_text("tied_embeddings = 1\n")
    with pytest.raises(ConfigError, match="true, false or"):
        make_config(toml)


def test_init_std_auto_is_sps_004_and_a_fan_in_gain_of_09_at_mups_base_width(tmp_path):
    import math

    from scalefit.proxy.config import MUP_INIT_GAIN, SP_INIT_STD

    sp, mup = TrainConfig(), TrainConfig(parametrization="mup", width=256, base_width=32)
    assert sp.init_std == "auto" and mup.init_std == "auto"
    assert resolve(sp).init_std == SP_INIT_STD == 0.04 and sp.model_config().init_std == 0.04
    gain = resolve(mup).init_std * math.sqrt(32)  # std x sqrt(fan-in) at the base width
    assert gain == pytest.approx(MUP_INIT_GAIN) == 0.9 and mup.model_config().init_std == resolve(mup).init_std
    assert resolve(TrainConfig(parametrization="mup", base_width=128)).init_std == pytest.approx(0.9 / math.sqrt(128))
    assert resolve(TrainConfig(parametrization="mup", init_std=0.02)).init_std == 0.02  # a number is kept
    # SP's ids are those of the former default 0.04; a muP run's is that of its resolved init (and 1/d attention)
    assert run_id(sp) == run_id(TrainConfig(init_std=0.04))
    assert run_id(mup) == run_id(dataclasses.replace(mup, init_std=0.9 / math.sqrt(32), mup_attention="1/d"))
    assert run_id(mup) != run_id(dataclasses.replace(mup, init_std=0.04))
    assert make_config(sets=["init_std=auto"]).init_std == "auto"
    assert make_config(sets=["init_std=0.08"]).init_std == 0.08 and make_config(sets=["init_std=1"]).init_std == 1.0
    toml = tmp_path / "c.toml"
    toml.write_text('init_std = "AUTO"\n')
    assert make_config(toml).init_std == "auto"
    for bad in (["init_std=abc"], ["init_std=-0.1"], ["init_std=nan"]):
        with pytest.raises(ConfigError, match="init_std"):
            make_config(sets=bad)
    for value in ("big", True):
        toml.write_text(f"init_std = {value!r}\n".replace("True", "true").replace("'", '"'))
        with pytest.raises(ConfigError, match="init_std"):
            make_config(toml)
    with pytest.raises(ConfigError, match="init_std"):
        resolve(TrainConfig(init_std="big"))  # a config built in code is checked too
