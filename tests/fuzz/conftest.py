"""Hypothesis profiles of the fuzz suite (issue 28).

``fuzz-ci`` (the default) keeps the whole suite to about two minutes of CI time; ``fuzz-long`` is the benchmark
run: ``HYPOTHESIS_PROFILE=long python -m pytest -q tests/fuzz`` (tens of minutes; run it with ``nice``). Each
test takes its example budget from :func:`budget`, as a fraction of the profile's, so that slow commands (a
full fit) get fewer examples than fast ones (a refused option). The profiles are applied per test, never loaded
globally, so they leave the other Hypothesis tests of the suite alone.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILE = "fuzz-long" if os.environ.get("HYPOTHESIS_PROFILE", "").removeprefix("fuzz-") == "long" else "fuzz-ci"
SUPPRESS = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large,
            HealthCheck.filter_too_much]
settings.register_profile("fuzz-ci", max_examples=40, deadline=None, suppress_health_check=SUPPRESS,
                          derandomize=True, print_blob=True)
settings.register_profile("fuzz-long", max_examples=1500, deadline=None, suppress_health_check=SUPPRESS,
                          print_blob=True)


def budget(fraction: float = 1.0) -> settings:
    """The active profile with ``fraction`` of its examples (at least 3); ``SCALEFIT_FUZZ_EXAMPLES=N`` sets the
    profile's count (e.g. for a quick randomized look between the two profiles)."""
    base = settings.get_profile(PROFILE)
    total = int(os.environ.get("SCALEFIT_FUZZ_EXAMPLES", base.max_examples))
    return settings(base, max_examples=max(3, int(total * fraction)))
