"""The exact McNemar test for base vs variant runs on the same items (the paired permutation and bootstrap tests
of declared metrics are in resample.py)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest


@dataclass(frozen=True)
class McNemarResult:
    """Discordant-pair counts and exact two-sided p-value."""

    b: int  # base right, variant wrong
    c: int  # base wrong, variant right
    statistic: int  # min(b, c)
    p_value: float


def mcnemar_exact(base_correct: np.ndarray, variant_correct: np.ndarray) -> McNemarResult:
    """Exact McNemar test: only items whose correctness changed carry information."""
    bc = np.asarray(base_correct, dtype=bool)
    vc = np.asarray(variant_correct, dtype=bool)
    if bc.shape != vc.shape or bc.ndim != 1:
        raise ValueError(f"need equal 1-D shapes, got {bc.shape} and {vc.shape}")
    b = int(np.count_nonzero(bc & ~vc))
    c = int(np.count_nonzero(~bc & vc))
    stat = min(b, c)
    p = 1.0 if b + c == 0 else float(binomtest(stat, b + c, 0.5).pvalue)
    return McNemarResult(b, c, stat, min(1.0, p))
