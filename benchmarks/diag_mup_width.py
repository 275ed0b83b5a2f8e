"""Diagnosis of muP at one width (issue 23): one run of the ``width-transfer-cpu`` preset's shape with one piece of
the parametrization changed, trained by scalefit's own trainer (``train_run``), to find what holds muP's best loss
above SP's at width 128.

    python benchmarks/diag_mup_width.py VARIANT LR [--width W] [--param sp|mup] [--set KEY=VALUE ...] [--out DIR]
    python benchmarks/diag_mup_width.py --collect [--out DIR] [--save]

VARIANT is ``none`` (the config as given: e.g. ``--set mup_attention=1/sqrt(d)``, ``--set init_std=0.04``,
``--set n_heads=16 --set base_n_heads=4``, ``--set qk_layernorm=true``, ``--set weight_decay=0``), or a change the
config cannot express, applied by wrapping ``mup.param_groups``/``mup.init_parameters`` for this process only:
``hid_half`` / ``qkv_half`` / ``emb_half`` / ``vec_half`` halve the learning rate (and its schedule multiplier) of the
hidden matrices / only the fused q, k, v projections / the embeddings and readout / the norm gains;
``hidden_init`` / ``readout_init`` undo muP's width scaling of the hidden init std / of the readout's effective init;
``readout_sqrt`` multiplies the readout init by ``sqrt(m)`` (effective init ``init_std / sqrt(m)``: SP's fan-in rule,
as in Everett et al. 2024's SP with per-layer learning rates); ``readout_x<F>`` (e.g. ``readout_x4``) multiplies the
readout init by F at any width (a readout init constant tuned at the base width), ``hidden_x<F>`` / ``emb_x<F>`` the
hidden matrices' / the embeddings' init;
``emb_sqrt`` / ``emb_m`` divide the embeddings' learning rate by ``sqrt(m)`` (u-muP's embedding rule, Blake et al.
2024) / by ``m``; ``vec_m`` divides the norm gains' and biases' learning rate by ``m``; ``wd_flat`` leaves the hidden
weight decay unscaled (AdamW's ``lr * wd`` then shrinks as ``1/m``, the ``mup`` package's ``decoupled_wd`` case).
Variants combine with ``+`` (``emb_sqrt+wd_flat``); ``--width`` (default 128) and ``--param`` (default mup) pick
the run's width and parametrization (an SP run takes no variant but ``none``). Runs go to
``OUT/d_<variant>/<run_id>/`` (run ids are the trainer's: a ``none`` run is the same run as the sweep's).
``--collect`` prints every run under OUT as one JSON table (``--save``: benchmarks/results/diag_mup_width.json).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PRESET = "width-transfer-cpu"
LR_HALF = {"hid_half": "hidden", "emb_half": "matrix", "vec_half": "vector"}  # variant -> param_groups group name
INIT_UNDO = ("hidden_init", "readout_init", "readout_sqrt")
GROUP_RULES = ("emb_sqrt", "emb_m", "vec_m", "wd_flat")
INIT_MULTS = ("readout_x", "hidden_x", "emb_x")  # + a factor: that kind's init multiplied by it at every width
VARIANTS = ("none", "qkv_half", *LR_HALF, *INIT_UNDO, *GROUP_RULES)


def patch(variant: str) -> None:
    """Wrap the muP rules for this process (see the module docstring); ``none`` leaves them alone."""
    parts = set(variant.split("+"))
    import torch

    import scalefit.proxy.model as model_mod
    import scalefit.proxy.mup as mup
    import scalefit.proxy.train as train_mod

    orig_init, orig_groups = mup.init_parameters, mup.param_groups

    @torch.no_grad()
    def init(model, cfg, seed):
        orig_init(model, cfg, seed)
        m = mup.width_mult(cfg)
        for name, p in model.named_parameters():
            kind = mup.param_kind(name, p)
            if ("hidden_init" in parts and kind == "hidden") or ("readout_init" in parts and kind == "readout"):
                p.mul_(math.sqrt(m) if kind == "hidden" else m)
            if "readout_sqrt" in parts and kind == "readout":
                p.mul_(math.sqrt(m))
            for part in parts:
                if part.startswith(f"{kind}_x") or (kind == "embedding" and part.startswith("emb_x")):
                    p.mul_(float(part.split("_x")[1]))

    def groups(model, cfg, lr, weight_decay, eps=None):
        out = orig_groups(model, cfg, lr, weight_decay, eps)
        m = mup.width_mult(cfg)
        if "qkv_half" in parts:
            names = {id(p): n for n, p in model.named_parameters()}
            for g in [g for g in out if g["name"] == "hidden"]:
                qkv = [p for p in g["params"] if names[id(p)].endswith("attn.qkv.weight")]
                g["params"] = [p for p in g["params"] if not names[id(p)].endswith("attn.qkv.weight")]
                out.append({**g, "params": qkv, "lr": g["lr"] * 0.5, "lr_mult": g["lr_mult"] * 0.5, "name": "qkv"})
        emb_ids = {id(p) for n, p in model.named_parameters() if mup.param_kind(n, p) == "embedding"}
        for g in list(out):
            if g["name"] == "matrix" and ({"emb_sqrt", "emb_m"} & parts):  # split the embeddings from the readout
                emb = [p for p in g["params"] if id(p) in emb_ids]
                g["params"] = [p for p in g["params"] if id(p) not in emb_ids]
                mult = m**-0.5 if "emb_sqrt" in parts else 1.0 / m
                out.append({**g, "params": emb, "lr": g["lr"] * mult, "lr_mult": g["lr_mult"] * mult, "name": "emb"})
        for g in out:
            if any(LR_HALF.get(part) == g["name"] for part in parts):
                g["lr"], g["lr_mult"] = g["lr"] * 0.5, g["lr_mult"] * 0.5
            if "vec_m" in parts and g["name"] == "vector":
                g["lr"], g["lr_mult"] = g["lr"] / m, g["lr_mult"] / m
            if "wd_flat" in parts and g["name"] == "hidden":
                g["weight_decay"] = weight_decay
        return [g for g in out if g["params"]]

    model_mod.init_parameters = init
    train_mod.param_groups = groups


def train(variant: str, lr: float, sets: list[str], out: Path, width: int = 128, param: str = "mup") -> dict:
    import torch

    from scalefit.proxy.config import make_config
    from scalefit.proxy.train import train_run
    from scalefit.sweeps.presets import PRESETS

    torch.set_num_threads(1)
    fixed = dict(PRESETS[PRESET]["fixed"])
    fixed["n_tokens"] = fixed.pop("tokens")
    opts = dict(fixed, width=width, depth=2, parametrization=param, lr=lr, name=f"d_{variant}")
    patch(variant)
    row = train_run(make_config(overrides=opts, sets=sets), out)
    return {"variant": variant, "param": param, "width": width, "lr": lr, "sets": sets, "loss": row["loss"],
            "status": row["status"], "wall_s": row["wall_s"]}


def collect(out: Path) -> list[dict]:
    """Every finished run under OUT: its variant (folder), shape, lr, init, options and final loss."""
    rows = []
    keys = ("parametrization", "width", "n_heads", "base_n_heads", "lr", "init_std", "weight_decay", "qk_layernorm",
            "input_mult", "output_mult", "zero_readout", "mup_attention", "mup_embedding_lr", "mup_readout_init",
            "mup_vector_lr", "mup_weight_decay", "seed")
    for result in sorted(out.glob("d_*/*/result.json")):
        config = json.loads((result.parent / "config.json").read_text())
        row = json.loads(result.read_text())
        rows.append({"variant": result.parent.parent.name[2:], "run_id": result.parent.name,
                     **{k: config.get(k) for k in keys}, "loss": row["loss"], "status": row["status"]})
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("variant", nargs="?")
    ap.add_argument("lr", nargs="?", type=float)
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--param", choices=("mup", "sp"), default="mup")
    ap.add_argument("--out", type=Path, default=HERE.parent / "scratch" / "diag")
    ap.add_argument("--collect", action="store_true")
    ap.add_argument("--save", action="store_true")
    args = ap.parse_args(argv)
    sys.path[:0] = [str(HERE), str(HERE.parent)]  # _record, and scalefit from this checkout
    if not args.collect:
        parts = {v for v in (args.variant or "").split("+") if not v.startswith(INIT_MULTS)}
        if args.variant is None or args.lr is None or not parts <= set(VARIANTS):
            ap.error(f"give VARIANT (one of {', '.join(VARIANTS)}, or several joined by +) and LR")
        if args.param == "sp" and parts - {"none"}:
            ap.error("an SP run takes the variant none or init multipliers (the others change muP's rules)")
        print(json.dumps(train(args.variant, args.lr, args.sets, args.out, args.width, args.param)))
        return
    import _record

    from scalefit._io import write_json_atomic

    record = {**_record.machine(), "runs": collect(args.out)}
    if args.save:
        write_json_atomic(HERE / "results" / "diag_mup_width.json", _record.finish(record))
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
