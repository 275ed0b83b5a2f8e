"""Progress of long fits: the library's tasks (scalefit._progress) and the CLI's status line on a terminal.

The library reports and never prints; the CLI draws one line on stderr only when stderr is a terminal (a real
pseudo-terminal here), never under --json or --quiet, and first after its delay.
"""

from __future__ import annotations

import io
import os
import pty
import select
import time

import pytest
from typer.testing import CliRunner

import scalefit
import scalefit.cli.fit_progress as fp
from scalefit._progress import Progress, progress, task
from scalefit.cli.app import app
from scalefit.fitting.select import select as select_laws
from scalefit.laws import get_law
from scalefit.laws.simulate import simulate

runner = CliRunner()


@pytest.fixture(scope="module")
def runs():
    """A one-input law's runs: each fit takes a fraction of a second."""
    return simulate(get_law("power"), {"E": 1.0, "A": 2000.0, "alpha": 0.2}, n_points=30, seed=2)


@pytest.fixture(scope="module")
def power_csv(runs, tmp_path_factory):
    csv = tmp_path_factory.mktemp("progress") / "runs.csv"
    runs.to_csv(csv, index=False)
    return csv


def _by_task(events: list[Progress]) -> dict[str, list[Progress]]:
    out: dict[str, list[Progress]] = {}
    for e in events:
        out.setdefault(e.task, []).append(e)
    return out


def test_bootstrap_reports_its_resamples_and_the_hook_changes_nothing(runs):
    events: list[Progress] = []
    with progress(events.append):
        watched = scalefit.fit("power", runs, bootstrap=200, seed=3, calibrate=False)
    plain = scalefit.fit("power", runs, bootstrap=200, seed=3, calibrate=False)
    assert watched.bootstrap == plain.bootstrap  # same draws, same refits, whatever watches
    boot = _by_task(events)["bootstrap resamples"]
    done = [e.done for e in boot]
    assert boot[0].done == 0 and boot[0].total == 200 and done == sorted(done)
    assert len(boot) >= 6  # 200 resamples in chunks of 50: progress between chunks, not only at the end
    assert boot[-1].finished and boot[-1].done == 200 and not any(e.finished for e in boot[:-1])
    assert "multi-start search" in _by_task(events)


def test_no_hook_no_events_and_a_hook_is_scoped(runs):
    events: list[Progress] = []
    with progress(events.append):
        pass
    scalefit.fit("power", runs, calibrate=False)
    assert events == []  # the hook was uninstalled with its block
    with pytest.raises(TypeError, match="callable"):
        with progress("print"):
            pass


def test_select_reports_candidates_with_nested_tasks(runs):
    events: list[Progress] = []
    with progress(events.append):
        select_laws(runs, ["power"], objectives=["huber", "mse"], folds=2)
    tasks = _by_task(events)
    cands = tasks["candidates"]
    assert cands[0].total == 2 and cands[-1].finished and cands[-1].done == 2
    assert [e.detail for e in cands[1:3]] == ["power, huber", "power, mse"]
    for inner in ("multi-start search", "fold refits"):  # each candidate's full fit and its fold refits
        assert any(e.task == inner and e.depth == 1 for e in events), inner
    assert tasks["calibration fold refits"][-1].finished  # the winner's fit is calibrated
    assert {e.depth for e in cands} == {0}


def test_backtest_folds_report_each_fold(runs):
    from scalefit.fitting.backtesting import backtest_folds

    events: list[Progress] = []
    with progress(events.append):
        results = backtest_folds("power", runs, folds=2, interval=None)
    folds = _by_task(events)["backtest folds"]
    assert folds[0].total == 2 and [e.detail for e in folds[1:3]] == [bt.holdout for bt in results]
    assert folds[-1].finished and folds[-1].done == 2


def test_a_task_ends_with_a_finished_event_when_its_work_raises():
    events: list[Progress] = []
    with progress(events.append), pytest.raises(RuntimeError, match="stop"):
        with task("work", 3) as advance:
            advance(1, "first")
            raise RuntimeError("stop")
    assert events[-1] == Progress("work", 1, 3, "first", events[0].id, 0, finished=True)


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_status_line_waits_for_the_delay_then_draws_the_open_tasks_and_erases():
    out, clock = io.StringIO(), Clock()
    line = fp.StatusLine(out, delay=2.0, clock=clock, width=lambda: 200)
    line(Progress("candidates", 0, 20, "chinchilla, huber", 1, 0))
    line(Progress("bootstrap resamples", 350, 1000, "", 2, 1))
    clock.now += 1.9
    line.draw()
    assert out.getvalue() == ""  # a quick command shows nothing
    clock.now += 0.2
    line.draw()
    assert out.getvalue() == ("\r\x1b[Kworking 2 s · candidates 0/20 (chinchilla, huber) · "
                              "bootstrap resamples 350/1000")
    line(Progress("bootstrap resamples", 1000, 1000, "", 2, 1, finished=True))
    line(Progress("candidates", 20, 20, "", 1, 0, finished=True))
    line.draw()
    assert out.getvalue().endswith("\r\x1b[K")  # nothing open: erased, so the result prints on a clean line


def test_status_line_fits_the_terminal_and_escapes_data():
    out, clock = io.StringIO(), Clock()
    line = fp.StatusLine(out, delay=0.0, clock=clock, width=lambda: 40)
    line(Progress("targets", 1, 3, "loss\x1b[2J" + "x" * 80, 1, 0))
    line.draw()
    shown = out.getvalue().removeprefix("\r\x1b[K")
    assert len(shown) == 39 and shown.endswith("…") and "\x1b" not in shown and "\\x1b" in shown


def test_progress_is_wanted_only_on_a_terminal_without_json_or_quiet(monkeypatch):
    monkeypatch.delenv("TERM", raising=False)
    master, slave = pty.openpty()
    try:
        with os.fdopen(slave, "w", closefd=False) as tty:
            assert fp.wanted(tty)
            assert not fp.wanted(tty, as_json=True) and not fp.wanted(tty, quiet=True)
            monkeypatch.setenv("TERM", "dumb")
            assert not fp.wanted(tty)
        assert not fp.wanted(io.StringIO())  # a file, a pipe, a CI log
    finally:
        os.close(master)
        os.close(slave)


def test_a_pseudo_terminal_gets_the_line_and_a_clean_end(monkeypatch):
    monkeypatch.delenv("TERM", raising=False)
    master, slave = pty.openpty()
    try:
        with os.fdopen(slave, "w", closefd=False) as tty:
            with fp.showing_progress(stream=tty, delay=0.0, interval=0.01) as status:
                assert status is not None
                with task("bootstrap resamples", 10) as advance:
                    advance(4)
                    deadline = time.monotonic() + 5
                    while not status.shown and time.monotonic() < deadline:
                        time.sleep(0.01)
        text = _read_all(master)
    finally:
        os.close(master)
        os.close(slave)
    assert "bootstrap resamples 4/10" in text and text.endswith("\r\x1b[K")


def _read_all(fd: int) -> str:
    data = b""
    while select.select([fd], [], [], 0.2)[0]:
        data += os.read(fd, 65536)
    return data.decode()


@pytest.fixture()
def terminal(monkeypatch):
    """The CLI as on a terminal: stderr counts as one and the line has no delay."""
    monkeypatch.setattr(fp, "_is_terminal", lambda stream: True)
    monkeypatch.setattr(fp, "DELAY", 0.0)
    monkeypatch.setattr(fp, "INTERVAL", 0.001)
    monkeypatch.delenv("TERM", raising=False)


def test_cli_fit_shows_progress_on_a_terminal_and_not_under_json(power_csv, terminal, monkeypatch):
    # a slow hook, so the ticker draws while the resamples are refitted
    slow = fp.StatusLine.__call__
    monkeypatch.setattr(fp.StatusLine, "__call__", lambda self, e: (slow(self, e), time.sleep(0.02)))
    args = ["fit", "power", str(power_csv), "--bootstrap", "200"]
    shown = runner.invoke(app, args)
    assert shown.exit_code == 0, shown.output
    assert "bootstrap resamples" in shown.stderr and shown.stderr.count("\r\x1b[K") >= 2
    assert "bootstrap resamples" not in shown.stdout  # progress never mixes into the report
    quiet = runner.invoke(app, [*args, "--json"])
    assert quiet.exit_code == 0 and "\x1b" not in quiet.stderr and "resamples" not in quiet.stderr


def test_cli_shows_nothing_when_stderr_is_not_a_terminal(power_csv):
    res = runner.invoke(app, ["fit", "power", str(power_csv), "--bootstrap", "100"])
    assert res.exit_code == 0 and "power" in res.stdout
    assert "\x1b" not in res.stderr and "resamples" not in res.stderr
