"""A paired test of trend: does a metric change steadily with a dose (bits per weight) across K runs of the
same units (items, prompts, clusters)?

The statistic is the least-squares slope of the metric's K values on the K doses. Under the null (the dose does
not matter) a unit's K records are exchangeable among the K runs, so the null distribution permutes each unit's
records among the runs, independently per unit: the paired form of a permutation test of the slope, as
`paired_permutation_test` is its two-run case (a swap is a permutation of two). Metrics here are functions of
sums over records (bench/metrics/declare.py), so a permuted run's sums are Σ_j (records of source run j placed
at this position) and need only matrix products. The interval of the slope is the paired bootstrap (the same
unit weights for every run: resample.bootstrap over a function of all K runs).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bench.stats.resample import _unit_index, chunks

Sums = dict[str, np.ndarray]


def slope(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares slope of y on x for each row: x (K,), y (B, K) -> (B,) (NaN where a y is undefined)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    xc = x - x.mean()
    den = float((xc ** 2).sum())
    if den == 0:
        return np.full(y.shape[0], np.nan)
    return (y - y.mean(axis=1, keepdims=True)) @ xc / den


def _add(a: Sums, b: Sums) -> Sums:
    return {k: a[k] + b[k] for k in a}


def permutation_null(sums_of: list[Callable[[np.ndarray], Sums]], value: Callable[[Sums], np.ndarray],
                     x: np.ndarray, n: int, *, unit: np.ndarray | None = None, n_permutations: int = 1000,
                     seed: int = 0) -> np.ndarray:
    """(B,) slopes with each unit's records permuted among the K runs.

    `sums_of[j](weights (B, n)) -> {column: (B,) or (B, L)}`: run j's weighted column sums; `value(sums)` the
    metric from sums (vectorised over B)."""
    k = len(sums_of)
    if k != len(x) or k < 2:
        raise ValueError(f"need one dose per run and at least two runs (got {k} runs, {len(x)} doses)")
    unit, n_units = _unit_index(unit, n)
    rng = np.random.default_rng(seed)
    out = np.empty(n_permutations)
    start = 0
    for size in chunks(n_permutations, n * k):
        perm = np.argsort(rng.random((size, n_units, k)), axis=-1)[:, unit, :]  # (size, n, k): source run
        ys = []
        for pos in range(k):
            src = perm[:, :, pos]
            total = None
            for j in range(k):
                part = sums_of[j]((src == j).astype(np.float64))
                total = part if total is None else _add(total, part)
            with np.errstate(divide="ignore", invalid="ignore"):
                ys.append(np.asarray(value(total), dtype=np.float64).reshape(size))
        out[start:start + size] = slope(x, np.stack(ys, axis=1))
        start += size
    return out
