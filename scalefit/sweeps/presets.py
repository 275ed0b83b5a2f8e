"""Built-in sweep presets: one per law family, each in a CPU size and a GPU size.

``*-cpu`` presets train byte-level models of 10k-1M parameters with a 64-byte context on the default corpus
(``kjv+stdlib``: the King James Bible and CPython's standard-library source, ~34M training bytes) in the default
layout (llama) and finish in minutes on a 2-core machine (the README gives their measured times); the GPU presets
give fits worth publishing on one GPU in hours, and need a corpus much larger than the default (pass
``--set corpus=PATH``: the larger GPU runs would repeat it many times — ``--dry-run`` shows the number of
epochs). ``scalefit sweep --preset NAME --show-spec`` prints a preset as TOML to copy.
"""

from __future__ import annotations

from typing import Any

from scalefit.errors import SweepError
from scalefit.sweeps.spec import SweepSpec, parse_spec

__all__ = ["PRESETS", "get_preset", "list_presets"]

# Shared by the CPU presets: tiny byte-level models, short context, one thread per worker.
_CPU = {
    "seq_len": 64,
    "batch_size": 16,
    "n_heads": 4,
    "lr": 5e-3,
    "n_evals": 5,
    "eval_tokens": 16384,
    "cloze_items": 128,
    "device": "cpu",
}
# Shared by the GPU presets: byte-level models with a 1,024-byte context, 64 sequences (65,536 tokens) a step.
_GPU = {  # init_std: GPT-2's 0.02 at these widths (256-1024); the default 0.04 was measured best at width 128 only
    "init_std": 0.02,
    "seq_len": 1024,
    "batch_size": 64,
    "n_heads": 8,
    "lr": 2e-3,
    "n_evals": 12,
    "eval_tokens": 262144,
    "cloze_items": 512,
}
# The layout, corpus and muP rules the width- and depth-transfer benchmarks were measured with (the defaults before
# session 6 made llama, kjv+stdlib and the later muP rules the defaults): pinned, so their presets keep the run ids
# of the committed measurements (benchmarks/results/bench_{width,depth}_transfer.json)
_GPT2_KJV = {"arch": "gpt2", "mlp": "gelu", "corpus": "kjv", "init_std": 0.02, "mup_attention": "1/d",
             "mup_embedding_lr": "1", "mup_readout_init": "1/m", "mup_vector_lr": "1", "mup_weight_decay": "lr*wd"}


def _sp_lr(width: int) -> float:
    """The CPU presets' SP learning rate at ``width``: 2^-7 at width 32, moving as 1/width, as SP's optimum does in
    runs/lr-transfer-cpu (2^-7 at width 32, 2^-7.5 at 64, 2^-9 at 128; llama layout, kjv+stdlib, init 0.04)."""
    return 2.0**-7 * 32 / width


_LRS_CPU = [2.0**k for k in range(-10, -3)]  # 9.8e-4 ... 6.25e-2, factor 2
_LRS_GPU = [2.0**k for k in range(-12, -3)]  # 2.4e-4 ... 6.25e-2, factor 2
_LRS_HP = [2.5e-4, 5e-4, 1e-3, 2e-3, 4e-3, 8e-3]
_M_OVERTRAIN = [5, 10, 20, 40, 80, 160, 320, 640]

PRESETS: dict[str, dict[str, Any]] = {
    "chinchilla-cpu": {
        "description": "Chinchilla grid: 7 sizes (14k-459k params) x 4 lengths each (WSD trunk + cooldown branches "
        "at 1/2, 1/4, 1/8) x seeds 0, 1, 4e10-1e13 FLOPs on a 2x budget ladder, SP with the LR tuned per width",
        # Sizes and lengths vary independently (each size at 4 lengths spanning 8x in tokens, 3.2M-5.3M at the
        # longest), so L(N, D)'s two exponents are separately pinned; every trunk sits on a ladder of budgets
        # 4e10 x 2^k, so its branches land on the ladder too and 5 budgets hold 3-5 sizes (fit isoflop).
        "fixed": {**_CPU, "schedule": "wsd", "cooldown": "1-sqrt", "decay_frac": 0.2, "min_lr_ratio": 0.0,
                  "eval_tokens": 65536, "cooldown_branches": "0.5,0.25,0.125"},
        # Two seeds: with seed 0 alone (28 runs) the 95% intervals were alpha 0.66 [0.43, 0.76], beta 0.64
        # [0.39, 0.74] (1,000 bootstrap resamples), just wider than +-0.15
        "grid": [{"shape": [[w, 2]], "flops": flops, "lr": _sp_lr(w), "seed": [0, 1]}
                 for w, flops in ((16, 3.2e11), (24, 6.4e11), (32, 1.28e12), (48, 2.56e12), (64, 2.56e12),
                                  (96, 5.12e12), (128, 1.024e13))],
    },
    "chinchilla": {
        "description": "IsoFLOP grid for the Chinchilla law: 6 sizes (3M-100M params) x 4 budgets (1e16-3e17 FLOPs)",
        "fixed": _GPU,
        "grid": [
            {"params": [3e6, 6e6, 1.2e7, 2.5e7, 5e7, 1e8], "width_multiple": 64, "flops": [1e16, 3e16, 1e17, 3e17]},
        ],
    },
    "overtrain-cpu": {
        "description": "Over-training (Gadre et al.): M = 5-640 at 14k and 26k params, plus M = 5, 20 at 41k-132k",
        "fixed": _CPU,
        "grid": [*({"shape": [[w, 2]], "M": _M_OVERTRAIN, "lr": _sp_lr(w)} for w in (16, 24)),
                 *({"shape": [[w, 2]], "M": [5, 20], "lr": _sp_lr(w)} for w in (32, 48, 64))],
    },
    "overtrain": {
        "description": "Over-training (Gadre et al.): M = 5-640 at 5M and 10M params, plus M = 5, 20 at 20M-80M",
        "fixed": _GPU,
        "grid": [
            {"params": [5e6, 1e7], "width_multiple": 64, "M": _M_OVERTRAIN},
            {"params": [2e7, 4e7, 8e7], "width_multiple": 64, "M": [5, 20]},
        ],
    },
    "lr-transfer-cpu": {
        "description": "LR transfer: 7 LRs x widths 32-128 (depth 2) under SP and muP (base width 32), 512k tokens, "
        "untied embeddings",
        # Untied: muP's 1/m readout multiplier on a shared input embedding held muP at width 128 to loss 2.27
        # (width 32: 2.27) where the untied model reaches 2.01 at the same lr (measured, 512k tokens).
        "fixed": {**_CPU, "base_width": 32, "tokens": 512000, "tied_embeddings": False},
        "grid": [{"parametrization": ["sp", "mup"], "width": [32, 64, 128], "depth": 2, "lr": _LRS_CPU}],
    },
    "width-transfer-cpu": {
        "description": "muP acceptance (issue 23): 7 LRs x widths 32-256 (depth 2) x SP/muP (base width 32) x seeds "
        "0, 1, muP also at width 512 (5 LRs), 512k tokens, untied embeddings; benchmarks/bench_width_transfer.py "
        "adds the init study and the table",
        # init_std 0.04: SP's best of {0.02, 0.04, 0.08} at widths 32 and 128 (width 128: 1.789, 1.645, 1.685 at its
        # best lr; benchmarks/results/diag_mup_width.json); GPT-2's 0.02 is a width-768 choice. muP: the finite-width
        # rules of scalefit/proxy/mup.py (embedding LR and readout init 1/sqrt(m), attention 1/sqrt(d), norm-gain
        # LR 1/m, matrices keep their weight decay)
        "fixed": {**_CPU, **_GPT2_KJV, "base_width": 32, "tokens": 512000, "tied_embeddings": False, "init_std": 0.04,
                  "mup_embedding_lr": "1/sqrt(m)", "mup_readout_init": "1/sqrt(m)", "mup_attention": "1/sqrt(d)",
                  "mup_vector_lr": "1/m", "mup_weight_decay": "wd"},
        "grid": [{"parametrization": ["sp", "mup"], "width": [32, 64, 128, 256], "depth": 2, "lr": _LRS_CPU,
                  "seed": [0, 1]},
                 # SP's optimum at width 256 lies at the grid's low edge (2^-10: 1.637 against 1.661 at 2^-9, mean
                 # of 2 seeds): one LR below it, so SP's best there is bracketed, not cut off
                 {"parametrization": "sp", "width": 256, "depth": 2, "lr": 2.0**-11, "seed": [0, 1]},
                 # muP at width 512 around its optimum: with 4 widths the fit's 95% slope interval (2 degrees of
                 # freedom) is [-0.44, +0.24], too wide for its equivalence test to say "transfers"
                 {"parametrization": "mup", "width": 512, "depth": 2, "lr": [2.0**k for k in range(-8, -3)],
                  "seed": [0, 1]}],  # the fit's window: the grid minimum (2^-6) +- 2 points, as at every width
    },
    "depth-transfer-cpu": {
        "description": "Depth transfer (issue 23): 4 LRs x depths 2/4/8 at width 64 (muP at its base width) under "
        "CompleteP (base depth 2) and without depth scaling, 512k tokens, untied embeddings; "
        "benchmarks/bench_depth_transfer.py prints the table",
        "fixed": {**_CPU, **_GPT2_KJV, "parametrization": "mup", "width": 64, "base_width": 64, "tokens": 512000,
                  "tied_embeddings": False},
        "grid": [{"base_depth": [2, 0], "depth": [2, 4, 8], "lr": [2.0**k for k in range(-9, -5)]}],
    },
    "lr-transfer": {
        "description": "LR transfer: 9 LRs x widths 128-1024 (depth 4) under SP and muP (base width 128), 2e8 tokens, "
        "untied embeddings",
        "fixed": {**_GPU, "base_width": 128, "tokens": 2e8, "tied_embeddings": False},
        "grid": [{"parametrization": ["sp", "mup"], "width": [128, 256, 512, 1024], "depth": 4, "lr": _LRS_GPU}],
    },
    "hparams-cpu": {
        "description": "Optimal LR and batch size: 4 LRs x 4 batch sizes at 35k and 120k params, 1M tokens",
        "fixed": {**_CPU, "tokens": 1048576},
        "grid": [
            {"shape": [[32, 2], [64, 2]], "lr": [2e-3, 5e-3, 1.25e-2, 3e-2], "batch_size": [8, 16, 32, 64]},
        ],
    },
    "hparams": {
        "description": "Optimal LR and batch: 6 LRs x 4 batch sizes in 3 cells (10M params, M = 20, 80; 40M, M = 20)",
        "fixed": {**_GPU, "width_multiple": 64},
        "grid": [
            {"params": 1e7, "M": [20, 80], "lr": _LRS_HP, "batch_size": [16, 32, 64, 128]},
            {"params": 4e7, "M": 20, "lr": _LRS_HP, "batch_size": [16, 32, 64, 128]},
        ],
    },
    "ladder-cpu": {
        "description": "Model ladder (Bhagia et al.): 4 sizes (14k-80k params) x 3 token multipliers (M = 20, 40, "
        "80), cloze task loss and accuracy at 9 checkpoints each, plus a held-out 132k-param target at M = 20",
        # The ladder's two steps read the curve rows: task loss L(N, D) at each run's last checkpoint, then
        # acc(L) over all checkpoints. 256 cloze items: the accuracy's sampling s.e. is ~0.03 a checkpoint.
        "fixed": {**_CPU, "n_evals": 8, "cloze_items": 256},
        "grid": [*({"shape": [[w, 2]], "M": [20, 40, 80], "lr": _sp_lr(w)} for w in (16, 24, 32, 48)),  # M = 10 ran
                 {"shape": [[64, 2]], "M": 20, "lr": _sp_lr(64)}],  # < 220 steps: too early for the ladder
    },
    "schedules-cpu": {
        "description": "Loss curves of one model (123k params, 1,200 steps) under constant, cosine and WSD schedules",
        "fixed": {  # the runs the lr-annealing law's README example and benchmark are fitted on
            **_CPU, "shape": [64, 2], "n_heads": 2, "seq_len": 128, "lr": 2e-3, "tokens": 2457600, "n_evals": 80,
            "eval_tokens": 8192, "cloze_items": 0, "warmup_frac": 0.02, "decay_frac": 0.2, "min_lr_ratio": 0.1,
        },
        "grid": [{"schedule": ["constant", "cosine", "wsd"]}],
    },
    "schedules": {
        "description": "Loss curves of one model (20M params) under constant, cosine and WSD schedules, 4e8 tokens",
        "fixed": {**_GPU, "params": 2e7, "width_multiple": 64, "n_evals": 100},
        "grid": [
            {"schedule": ["constant", "cosine", "wsd"], "tokens": 4e8},
            {"schedule": "cosine", "tokens": 2e8},
            {"schedule": "wsd", "decay_frac": 0.1, "tokens": 4e8},
        ],
    },
}


def list_presets() -> dict[str, str]:
    """Preset name -> one-line description."""
    return {name: p["description"] for name, p in PRESETS.items()}


def get_preset(name: str) -> SweepSpec:
    """The preset's spec (validated); SweepError naming the presets when unknown."""
    if name not in PRESETS:
        raise SweepError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")
    return parse_spec({"name": name, **PRESETS[name]}, source=f"preset:{name}")
