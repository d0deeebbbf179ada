"""Power of paired comparisons: minimum detectable effects and the items a task needs.

- Paired proportions (McNemar): Connor (1987), the discordant-pair formula. With ψ the share of items whose
  outcome differs between the two runs (discordant pairs) and δ = p₁₀ − p₀₁ the difference of proportions,
  a two-sided level-α test has power 1 − β at n = (z_{1−α/2} √ψ + z_{1−β} √(ψ − δ²))² / δ². Solved for δ
  it gives the minimum detectable effect of n items, in proportion-of-items units.
- Anything else: the normal approximation from the paired bootstrap's standard error of the delta,
  MDE = (z_{1−α/2} + z_{1−β}) · SE, and SE shrinks as 1/√n, so the items needed for an effect d are
  n · (MDE / d)².
"""

from __future__ import annotations

import math
from functools import lru_cache

from scipy.stats import norm


@lru_cache(maxsize=64)  # the MDE's bisection asks for the same quantiles 100 times per row
def _z(alpha: float, power: float) -> tuple[float, float]:
    return float(norm.ppf(1 - alpha / 2)), float(norm.ppf(power))


def mcnemar_n(delta: float, discordance: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Items needed to detect a difference of proportions `delta` with discordant share `discordance`."""
    delta = abs(delta)
    if not 0 < delta <= discordance <= 1:
        return math.nan
    za, zb = _z(alpha, power)
    return (za * math.sqrt(discordance) + zb * math.sqrt(discordance - delta ** 2)) ** 2 / delta ** 2


def mcnemar_mde(n: int, discordance: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest |p₁₀ − p₀₁| that n paired items detect (NaN without discordant pairs: nothing to scale by)."""
    if n <= 0 or not 0 < discordance <= 1:
        return math.nan
    lo, hi = 1e-9, discordance
    if mcnemar_n(hi, discordance, alpha, power) > n:
        return math.nan  # even the largest possible effect is out of reach
    for _ in range(100):
        mid = (lo + hi) / 2
        if mcnemar_n(mid, discordance, alpha, power) > n:
            lo = mid
        else:
            hi = mid
    return hi


def normal_mde(se: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """NaN where the bootstrap never varied (SE 0: every resample gave one delta, as on a handful of identical
    answers): its spread then says nothing about the effects these items could detect, and an MDE of 0 would
    claim they detect any."""
    za, zb = _z(alpha, power)
    return (za + zb) * se if se is not None and math.isfinite(se) and se > 0 else math.nan


def scaled_n(n: int, mde: float, effect: float) -> float:
    """Items needed for `effect`, from the MDE that n items give (MDE ∝ 1/√n)."""
    if not (math.isfinite(mde) and effect):
        return math.nan
    return n * (mde / abs(effect)) ** 2
