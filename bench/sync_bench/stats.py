"""Latency percentiles and rates, the same way for server figures and floors."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile; NaN for no samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


def ratio(server: float, floor: float) -> str:
    if math.isnan(server) or math.isnan(floor) or floor <= 0:
        return "n/a"
    return f"{server / floor:.1f}x"
