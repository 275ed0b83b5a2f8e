"""Reproduce the two-domain fits of the official data-mixing-laws code (Ye et al. 2024, "Data Mixing Laws",
arXiv:2403.16952), github.com/yegcjs/mixinglaws at commit c58d34960bd32144814f1c91a0324b669436727f.

* ``mix_2_domains.ipynb``: for each validation domain d of a 70M model trained on Github + Pile-CC mixtures, and
  each step s in (10000, 20000, 30000), the notebook picks c on ``np.linspace(0, min(y), 1000)`` maximising
  ``|corrcoef(x, log(y - c))|`` (x = the proportion of domain d itself), then fits ``y - c = exp(k x + b)``
  (``law.py``: Huber loss with delta = 0.02, summed, L-BFGS in float32). Its stored output prints ``[k, b]``
  for the 70M model, Github then Pile-CC, steps 10000, 20000, 30000 (the first six printed tensors; the
  notebook runs 70M first). c itself is not printed, so the test recomputes it with the notebook's rule.
* ``data/2Mix/70M.txt``: the validation losses those fits use (rows ``70M_base2_<i>-<r_github>-<r_pilecc>/<step>``,
  domain file ``pythia-pile.valid.<domain>.bin``); the values below are copied from it.

scalefit's simplex form ``L = c + exp(t1 r1 + t2 r2)`` equals the notebook's law on r1 + r2 = 1 with, for
Github (x = r1): k = t1 - t2, b = t2; for Pile-CC (x = r2): k = t2 - t1, b = t1. With c fixed to the notebook's
value and a squared-error objective on raw losses (the notebook's Huber loss is quadratic here: every residual
is below delta = 0.02), the fit must give the printed k and b. Tolerance 5e-4: the printed 4 decimals plus the
notebook's float32 optimiser (the exact float64 least-squares optimum differs from the print by up to 2e-4).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from scalefit.fitting import fit

R_GITHUB = np.array([0.25, 0.375, 0.5, 0.625, 0.75])  # ratios 0.25-0.75, 0.375-0.625, 0.5-0.5, 0.625-0.375, 0.75-0.25
LOSS = {  # data/2Mix/70M.txt, (domain, step) -> loss at the five mixtures above
    ("Github", 10000): [1.620832806174089, 1.5498363170546559, 1.4789030870445343, 1.4469295609817814,
                        1.411091298709514],
    ("Github", 20000): [1.481441358805668, 1.4282898690536436, 1.3660488360323886, 1.328846549215587,
                        1.2927710652834008],
    ("Github", 30000): [1.4443359375, 1.3859675480769231, 1.3278245192307692, 1.2935973873987854,
                        1.2567707015435223],
    ("Pile-CC", 10000): [3.6703489711302213, 3.702006871928747, 3.7396681127149876, 3.801385902948403,
                         3.888470324017199],
    ("Pile-CC", 20000): [3.535751305282555, 3.5726495316339064, 3.6117168304668303, 3.668803746928747,
                         3.751871544840295],
    ("Pile-CC", 30000): [3.498733108108108, 3.531590717137592, 3.5669533169533167, 3.6268907401719903,
                         3.7032881603194103],
}
PRINTED = {  # mix_2_domains.ipynb, outputs of the fitting cell: tensor([k, b])
    ("Github", 10000): (-2.4381, -0.5978),
    ("Github", 20000): (-1.5473, -0.6506),
    ("Github", 30000): (-1.6405, -0.6819),
    ("Pile-CC", 10000): (-2.9041, -0.5333),
    ("Pile-CC", 20000): (-2.2959, -0.5862),
    ("Pile-CC", 30000): (-2.5189, -0.6257),
}


def notebook_c(x, y):
    """The notebook's choice of c: the grid value maximising |corr(x, log(y - c))|."""
    best_c, max_corr = 0.0, 0.0
    for c in np.linspace(0, min(y), 1000):
        with np.errstate(all="ignore"):
            corr = np.abs(np.corrcoef(x, np.log(y - c))[0, 1])
        if corr > max_corr:
            max_corr, best_c = corr, c
    return best_c


@pytest.mark.parametrize("key", sorted(PRINTED))
def test_two_domain_fit_reproduces_printed_parameters(key):
    domain, _ = key
    y = np.array(LOSS[key])
    x = R_GITHUB if domain == "Github" else 1.0 - R_GITHUB
    frame = pd.DataFrame({"r1": R_GITHUB, "r2": 1.0 - R_GITHUB, "loss": y})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit("data-mixture", frame, target="loss", law_options={"n": 2}, fix={"c": notebook_c(x, y)},
                  loss="mse", space="raw", calibrate=False)
    t1, t2 = res.params["t1"], res.params["t2"]
    k, b = (t1 - t2, t2) if domain == "Github" else (t2 - t1, t1)
    assert k == pytest.approx(PRINTED[key][0], abs=5e-4)
    assert b == pytest.approx(PRINTED[key][1], abs=5e-4)
