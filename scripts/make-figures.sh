#!/bin/bash
# Regenerate figures/ from the committed proxy sweeps in runs/ and the bundled datasets (a few minutes on 2 cores).
# Usage: bash scripts/make-figures.sh   (from the repository root; the fits go to a temporary folder)
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
scalefit fit chinchilla runs/chinchilla-cpu/runs.csv --bootstrap 1000 --out "$tmp/fit.json" > /dev/null
scalefit plot "$tmp/fit.json" --runs runs/chinchilla-cpu/runs.csv --to 3e13 --out figures/chinchilla-cpu.png
scalefit fit isoflop runs/chinchilla-cpu/runs.csv --bootstrap 1000 --out "$tmp/iso.json" > /dev/null
scalefit plot "$tmp/iso.json" --runs runs/chinchilla-cpu/runs.csv --out figures/isoflop-cpu.png
scalefit fit lr-transfer runs/lr-transfer-cpu/runs.csv --out "$tmp/lrt.json" > /dev/null
scalefit plot "$tmp/lrt.json" --runs runs/lr-transfer-cpu/runs.csv --out figures/lr-transfer-cpu.png
scalefit fit ladder runs/ladder-cpu/curves.csv --loss-cols 'loss_*' --acc-cols 'acc_*' --where "n_params < 1e5" \
    --opt chance=0.25 --opt target_n=131520 --opt target_d=2630656 --bootstrap 200 --out "$tmp/ladder.json" > /dev/null
scalefit plot "$tmp/ladder.json" --out figures/ladder-cpu.png
scalefit fit hparams dataset:steplaw-dense --target "smooth loss" --opt seq_len=2048 --bootstrap 1000 \
    --out "$tmp/hp.json" > /dev/null
scalefit plot "$tmp/hp.json" --runs dataset:steplaw-dense --out figures/steplaw_hparams.png
python benchmarks/gadre_backtest.py --figures "$tmp/gadre" > /dev/null  # the bundled Gadre et al. runs
cp "$tmp"/gadre/gadre_overtrain_rpj.png "$tmp"/gadre/gadre_downstream_rpj.png figures/
python benchmarks/schedule_prediction.py --figure figures/schedule_prediction.png > /dev/null
scalefit coord-check --widths 64,128,256 --steps 3 --plot figures/coord_check.png > /dev/null
echo "figures/ regenerated"
