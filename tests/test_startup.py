"""Start-up: importing scalefit and the light commands load only what they use (no scipy, pandas for import).

Checked in fresh subprocesses, by what ends up in ``sys.modules`` (times live in benchmarks/bench_scale.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

HEAVY = ("scipy", "pandas", "matplotlib", "torch", "numpy")


def _modules_after(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code + f"\nimport sys, json; print(json.dumps("
                          f"{{m: m in sys.modules for m in {HEAVY!r}}}))"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _cli(*args: str) -> str:
    return ("import sys\nfrom scalefit.cli.app import main\n"
            f"sys.argv = ['scalefit', *{list(args)!r}]\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n")


def test_import_scalefit_loads_no_heavy_package():
    assert not any(_modules_after("import scalefit").values())  # not even numpy: errors.py only


def test_public_names_load_on_first_use():
    loaded = _modules_after("import scalefit\nscalefit.fit\nscalefit.FitResult\nscalefit.read_runs")
    assert loaded["pandas"] and not loaded["matplotlib"] and not loaded["torch"]
    out = subprocess.run([sys.executable, "-c", "import scalefit; print(sorted(set(scalefit.__all__) - set(dir("
                          "scalefit))))"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_help_loads_no_heavy_package_and_laws_only_numpy():
    assert not any(_modules_after(_cli("--help")).values())
    loaded = _modules_after(_cli("laws"))
    assert loaded["numpy"] and not any(v for k, v in loaded.items() if k != "numpy")


def test_predict_loads_no_scipy(tmp_path):
    from scalefit.fitting import fit
    from scalefit.laws import get_law
    from scalefit.laws.simulate import simulate

    law = get_law("chinchilla")
    runs = simulate(law, {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}, n_points=30, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit("chinchilla", runs, starts=law.start_grid()[::50]).save(tmp_path / "fit.json")
    loaded = _modules_after(_cli("predict", str(tmp_path / "fit.json"), "--at", "N=7e10", "--at", "D=1.4e12"))
    assert not loaded["scipy"] and not loaded["matplotlib"] and not loaded["torch"]
