"""Start-up: importing scalefit and the light commands load only what they use (no scipy, pandas for import;
a command imports its own module, not every command's; Typer's pydantic layer only for a number typed in).

Checked in fresh subprocesses, by what ends up in ``sys.modules`` (times live in benchmarks/bench_scale.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

HEAVY = ("scipy", "pandas", "matplotlib", "torch", "numpy", "pydantic", "scalefit.cli.fit_cmd",
         "scalefit.cli.train_cmd")


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
    assert not any(_modules_after("import scalefit.cli.app").values())  # the commands load on use


def test_public_names_load_on_first_use():
    loaded = _modules_after("import scalefit\nscalefit.fit\nscalefit.FitResult\nscalefit.read_runs")
    assert loaded["pandas"] and not loaded["matplotlib"] and not loaded["torch"]
    out = subprocess.run([sys.executable, "-c", "import scalefit; print(sorted(set(scalefit.__all__) - set(dir("
                          "scalefit))))"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_help_loads_no_heavy_package_and_laws_only_numpy():
    loaded = _modules_after(_cli("--help"))  # the listing needs every command module, nothing heavy
    assert loaded["scalefit.cli.fit_cmd"] and not any(v for k, v in loaded.items() if not k.startswith("scalefit"))
    for args in (["laws"], ["laws", "chinchilla", "--json"]):
        loaded = _modules_after(_cli(*args))
        assert loaded["numpy"] and not any(v for k, v in loaded.items() if k != "numpy"), args


def test_a_typed_number_still_goes_through_typers_coercion():
    code = ("import sys\nfrom scalefit.cli.app import main\nsys.argv = ['scalefit', 'simulate', 'chinchilla', "
            "'--points', 'many']\ntry:\n    main()\nexcept SystemExit as exc:\n    print(exc.code)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.stdout.strip() == "2" and "Invalid value for '--points'" in res.stderr, res.stderr


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
    assert not loaded["scipy"] and not loaded["matplotlib"] and not loaded["torch"] and not loaded["pydantic"]
