"""Resampling by weights: the bootstrap and paired permutation for any statistic of weighted sums.

A statistic is given as `fn(weights) -> values`, weights (B, n) over records, values (B,). A bootstrap
resample of units (records alone, or clusters of records that move together), drawn with replacement within
strata, is the weight vector "how often was each record's unit drawn"; a paired permutation swaps base and
variant for whole units. Both are chunked so that B × n stays bounded in memory.

The draws depend only on the seed, B and the records' units and strata, so a comparison that resamples the
same records for every metric and every variant of a family would draw the same weights hundreds of times:
they are drawn once and kept, compactly, in a bounded cache (drawing them was most of `compare`'s time).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterator

import numpy as np

# Upper bound on resamples x items held at once (weight matrix cells); keeps peak memory around 100 MB for
# n = 100k whatever the number of resamples.
MAX_CELLS = 4_000_000
Fn = Callable[[np.ndarray], np.ndarray]
# Below this many resampling units (items, prompts, clusters) a bootstrap distribution is a handful of
# atoms (two decision questions give three distinct resamples): no interval is reported rather than a
# misleading one.
MIN_UNITS = 5


def enough_units(unit: np.ndarray | None, n: int) -> bool:
    return (n if unit is None else len(np.unique(unit))) >= MIN_UNITS


def chunks(total: int, n: int) -> Iterator[int]:
    step = max(1, MAX_CELLS // max(1, n))
    done = 0
    while done < total:
        size = min(step, total - done)
        yield size
        done += size


def strata_groups(strata: np.ndarray | None, n: int) -> list[np.ndarray]:
    """Item indices per stratum (one group of all items when strata is None)."""
    if strata is None:
        return [np.arange(n)]
    strata = np.asarray(strata)
    if strata.shape != (n,):
        raise ValueError(f"strata must have shape ({n},), got {strata.shape}")
    _, inverse = np.unique(strata, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    bounds = np.flatnonzero(np.diff(inverse[order])) + 1
    return np.split(order, bounds)


def resample_counts(
    rng: np.random.Generator, size: int, groups: list[np.ndarray], n: int
) -> np.ndarray:
    """(size, n) multinomial draw counts; each group keeps its own size in every row.

    Drawing indices and bincounting is equivalent to a uniform multinomial per
    stratum but much faster than numpy's sequential-binomial multinomial.
    """
    counts = np.zeros((size, n), dtype=np.float64)
    rows = np.arange(size)[:, None]
    for idx in groups:
        m = idx.shape[0]
        if m == 0:
            continue
        draws = rng.integers(0, m, size=(size, m))
        flat = (draws + rows * m).ravel()
        counts[:, idx] = np.bincount(flat, minlength=size * m).reshape(size, m)
    return counts


def two_sided_p(null_stats: np.ndarray, observed: float) -> float:
    """(#{|null| >= |observed|} + 1) / (B + 1) over the finite null statistics."""
    null_stats = null_stats[np.isfinite(null_stats)]
    if not np.isfinite(observed):
        return float("nan")
    # Tolerance so that exact ties are not lost to float rounding in sums.
    tol = 1e-12 * max(1.0, abs(observed))
    count = int(np.count_nonzero(np.abs(null_stats) >= abs(observed) - tol))
    return (count + 1) / (null_stats.shape[0] + 1)


def _unit_index(unit: np.ndarray | None, n: int) -> tuple[np.ndarray, int]:
    if unit is None:
        return np.arange(n), n
    unit = np.asarray(unit)
    return unit, int(unit.max()) + 1 if unit.size else 0


def bootstrap_weights(rng: np.random.Generator, size: int, unit: np.ndarray, n_units: int,
                      strata: np.ndarray | None) -> np.ndarray:
    """(size, n_records) weights: each unit's draw count, units drawn within their stratum."""
    counts = resample_counts(rng, size, strata_groups(strata, n_units), n_units)
    return counts[:, unit]


# Cells of cached draws kept at once (one byte each for counts below 256): about 256 MB.
CACHE_CELLS = 256_000_000
_drawn: OrderedDict[tuple, list[np.ndarray]] = OrderedDict()


def _digest(a: np.ndarray | None) -> str:
    if a is None:
        return ""
    a = np.ascontiguousarray(a)
    if a.dtype == object:
        a = np.asarray([str(x) for x in a.ravel()])
    return hashlib.blake2b(a.tobytes() + str((a.dtype, a.shape)).encode(), digest_size=16).hexdigest()


def _compact(w: np.ndarray) -> np.ndarray:
    return w.astype(np.uint8) if w.size and w.max() < 256 else w.astype(np.uint32)


def _cached(kind: str, draw: Callable[[], Iterator[np.ndarray]], cells: int, *key) -> Iterator[np.ndarray]:
    """The chunks `draw()` makes, as float64: drawn once per key where `cells` fit the cache, else streamed (as
    before the cache: one chunk in memory at a time)."""
    if cells > CACHE_CELLS:
        yield from (np.asarray(p, dtype=np.float64) for p in draw())
        return
    full = (kind, *key)
    parts = _drawn.get(full)
    if parts is None:
        parts = _drawn[full] = [_compact(p) for p in draw()]
        while sum(q.size for qs in _drawn.values() for q in qs) > CACHE_CELLS:
            _drawn.popitem(last=False)
    else:
        _drawn.move_to_end(full)
    for p in parts:
        yield p.astype(np.float64)


def weight_chunks(n: int, unit: np.ndarray | None, strata: np.ndarray | None, n_resamples: int,
                  seed: int) -> Iterator[np.ndarray]:
    """The bootstrap's (size, n) weight chunks: the same for every statistic of the same records."""
    unit, n_units = _unit_index(unit, n)

    def draw() -> Iterator[np.ndarray]:
        rng = np.random.default_rng(seed)
        return (bootstrap_weights(rng, size, unit, n_units, strata) for size in chunks(n_resamples, n))
    return _cached("bootstrap", draw, n * n_resamples, n, n_resamples, seed, _digest(unit), _digest(strata))


def bootstrap(fn: Fn, n: int, *, unit: np.ndarray | None = None, strata: np.ndarray | None = None,
              n_resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """B resampled values of a statistic, (B,) or (B, m) as `fn` returns (NaN where a resample leaves it
    undefined)."""
    return np.concatenate([fn(w) for w in weight_chunks(n, unit, strata, n_resamples, seed)], axis=0)


def paired_bootstrap(fn_base: Fn, fn_variant: Fn, n: int, *, unit: np.ndarray | None = None,
                     strata: np.ndarray | None = None, n_resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """B deltas variant − base, both runs resampled with the same units (that is the pairing)."""
    return np.concatenate([fn_variant(w) - fn_base(w) for w in weight_chunks(n, unit, strata, n_resamples, seed)])


def permutation_null(fn_swapped: Callable[[np.ndarray], np.ndarray], n: int, *, unit: np.ndarray | None = None,
                     n_permutations: int = 1000, seed: int = 0) -> np.ndarray:
    """B null deltas: `fn_swapped(swap)` with swap (B, n) 0/1, constant within a unit (1 = the unit's base
    and variant records trade places)."""
    unit, n_units = _unit_index(unit, n)

    def draw() -> Iterator[np.ndarray]:
        rng = np.random.default_rng(seed)
        return (rng.integers(0, 2, size=(size, n_units))[:, unit] for size in chunks(n_permutations, n))
    swaps = _cached("permutation", draw, n * n_permutations, n, n_permutations, seed, _digest(unit))
    return np.concatenate([fn_swapped(swap) for swap in swaps])


def percentile_interval(draws: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        return float("nan"), float("nan")
    a = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(finite, [a, 1.0 - a])
    return float(lo), float(hi)


def bootstrap_se(draws: np.ndarray) -> float:
    finite = draws[np.isfinite(draws)]
    return float(finite.std(ddof=1)) if finite.size > 1 else float("nan")


def recentred_p(deltas: np.ndarray, observed: float) -> float:
    """Two-sided bootstrap p: share of |delta* − delta| at least |delta|, with the +1 correction."""
    finite = deltas[np.isfinite(deltas)]
    if finite.size == 0 or not np.isfinite(observed):
        return float("nan")
    return two_sided_p(finite - observed, observed)


def permutation_p(null: np.ndarray, observed: float) -> float:
    return two_sided_p(null, observed)
