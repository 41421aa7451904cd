"""Shared test settings: hypothesis runs a thousand cases per property in CI, fewer on a laptop."""

from __future__ import annotations

import os

# Small dense fits (band fitting) are far slower with a multi-threaded OpenBLAS on 2 cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from hypothesis import HealthCheck, Phase, settings

settings.register_profile("dev", max_examples=100, deadline=None)
# 1000 in CI: with 2000 the property tests alone took ~5.5 of CI's 16.5 minutes (limit: 20).
settings.register_profile(
    "ci", max_examples=1000, deadline=None, print_blob=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE",
                                                                         "dev"))
