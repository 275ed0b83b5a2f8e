"""Every exception and warning class of scalefit, in one home.

Each error subclasses the matching built-in so callers can catch either, and its message says
what went wrong, where (file:row:column when a file is involved) and how to fix it.
"""

from __future__ import annotations


class ScalefitError(Exception):
    """Base class of every error scalefit raises on purpose."""


class RunDataError(ScalefitError, ValueError):
    """A run log cannot be read or does not hold what a law needs."""


class TrackerError(RunDataError):
    """A tracker's store (TensorBoard event files, an MLflow tracking store, W&B runs) cannot be read: empty, corrupt,
    missing, written by a newer version, or holding a metric that is not a number; or its library is not installed."""


class LawError(ScalefitError, ValueError):
    """A law is unknown, or its definition (formula, parameters) is invalid."""


class UnsafeFormulaError(LawError):
    """A user formula uses something outside the math whitelist (attributes, imports, calls...)."""


class UnsafeFilterError(RunDataError):
    """A row filter (--where, --holdout, a stored filter) uses something outside the filter whitelist."""


class FitError(ScalefitError, RuntimeError):
    """A fit could not be carried out (no finite objective, bad options...)."""


class FitFileError(ScalefitError, ValueError):
    """A fit.json file is missing, unreadable or from an incompatible version."""


class OutputPathError(ScalefitError, OSError):
    """An output path is unusable: empty, a folder, one of the command's inputs, or not writable."""


class ConfigError(ScalefitError, ValueError):
    """A configuration (options, TOML, --set) has an unknown key or a wrong type."""


class TrainingError(ScalefitError, RuntimeError):
    """A proxy training run could not be set up or carried out."""


class SweepError(ScalefitError, RuntimeError):
    """A sweep spec is invalid or a sweep directory is inconsistent."""


class ArgumentTypeError(ScalefitError, TypeError):
    """A library function got an argument of the wrong Python type (``bootstrap=1.5``, ``mapping="N=x"``); the
    message names the argument and the type it takes."""


class ScalefitWarning(UserWarning):
    """Base class of scalefit's warnings."""


class DroppedRowsWarning(ScalefitWarning):
    """Rows of the run log take no part in the result (e.g. an empty --group-by cell); says how many and where."""


class ConvergenceWarning(ScalefitWarning):
    """The optimiser did not converge, or too few starts reached the best optimum."""


class BoundWarning(ScalefitWarning):
    """A fitted parameter sits on one of its bounds."""


class ExtrapolationWarning(ScalefitWarning):
    """A prediction lies outside the range of the data the law was fitted on."""


class IdentifiabilityWarning(ScalefitWarning):
    """The data cannot determine some fitted parameters (a constant input, identical rows, a singular Jacobian)."""


class StitchWarning(ScalefitWarning):
    """Parts of a run (a resumed run's tracker runs or event files) log the same steps; the latest part's rows
    were kept and the others dropped."""


class PlanInputError(FitError, ValueError):
    """A planning input (compute budget, model size, tokens, multiplier, ...) is not a finite positive number.

    A FitError too, which planning raised for such inputs before this class existed.
    """


class SweepInterrupted(KeyboardInterrupt):
    """A sweep stopped by Ctrl-C or SIGTERM: workers stopped, tables rewritten; re-running resumes it.

    A KeyboardInterrupt (not a ScalefitError), so that ``except Exception`` never swallows it.
    """

    def __init__(self, finished: int, planned: int, cancelled_jobs: tuple[str, ...] = ()) -> None:
        super().__init__(f"interrupted: {finished} runs finished, re-run the same command to resume")
        self.finished = finished  # runs finished by the interrupted call
        self.planned = planned  # runs of the sweep's spec
        self.cancelled_jobs = tuple(cancelled_jobs)  # Slurm jobs the executor cancelled (scancel)


class CheckpointError(ScalefitError, ValueError):
    """A mid-run checkpoint cannot resume this run: another config, another scalefit version, or unreadable."""


class RunInterrupted(KeyboardInterrupt):
    """A proxy run stopped on a signal (Slurm's warning before its time limit, preemption) after writing its
    checkpoint; running it again resumes from there. A KeyboardInterrupt, so ``except Exception`` never swallows it.
    """

    def __init__(self, step: int, checkpoint: str) -> None:
        super().__init__(f"stopped on a signal after step {step}; checkpoint {checkpoint}: run again to resume")
        self.step = step  # the last step the checkpoint holds
        self.checkpoint = checkpoint  # its path
