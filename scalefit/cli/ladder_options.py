"""The options of `scalefit fit ladder` that name the log's task columns (declared once, used by fit_cmd)."""

from __future__ import annotations

from dataclasses import dataclass

from scalefit.cli.option_groups import option
from scalefit.cli.options import OptionError


@dataclass(frozen=True)
class LadderOptions:
    """`scalefit fit ladder`: which columns hold each task's loss and accuracy."""

    panel = "ladder procedure"

    loss_cols: str = option(None, "--loss-cols", metavar="GLOB", help="ladder: the task-loss columns, one per "
                            "task (e.g. 'bpb_*'); with --task-col, the one task-loss column.")
    acc_cols: str = option(None, "--acc-cols", metavar="GLOB", help="ladder: the accuracy columns, paired with "
                           "--loss-cols by task name (e.g. 'acc_*'); with --task-col, the one accuracy column.")
    task_col: str = option(None, "--task-col", metavar="COLUMN", help="ladder: a long log's task column.")

    def given(self) -> dict:
        return {k: v for k, v in (("loss_cols", self.loss_cols), ("acc_cols", self.acc_cols),
                                  ("task", self.task_col)) if v is not None}


def ladder_options(name: str, options: dict, ladder: LadderOptions | None) -> dict:
    """``options`` of procedure ``name`` with the ladder's column options; refused for anything but the ladder."""
    given = ladder.given() if ladder is not None else {}
    if not given:
        return options
    if name != "ladder":
        raise OptionError(f"--loss-cols/--acc-cols/--task-col apply to `scalefit fit ladder`, not {name!r}")
    return {**options, **given}


__all__ = ["LadderOptions", "ladder_options"]
