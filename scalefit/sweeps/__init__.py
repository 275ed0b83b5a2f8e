"""Sweeps of proxy runs: declarative specs and presets, a resumable runner, local and Slurm executors."""
