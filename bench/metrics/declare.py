"""One declaration of a task's metrics, used by everything that needs a metric.

A task lists its metrics once, in its hook module `bench/tasks/<scorer>.py`, as `METRICS: list[Metric]`
(the Inspect AI pattern: a scorer with its metrics attached). The run's metrics.json (values and 95%
intervals), the paired comparison of two runs, and the re-check of a submission all evaluate these same
objects on the items.parquet records, so a metric cannot drift between them.

A Metric is a function of *sums over items* of per-item statistics:

    Metric("accuracy", columns=lambda r: {"correct": r["pred"] == r["gold"], "n": ones(len(r))},
           value=lambda s: ratio(s["correct"], s["n"]), test="mcnemar", outcome=("correct", "n"))

- `columns(records) -> {name: 1-D array}`: per-item statistics, additive over items (counts, indicators,
  sums of scores). Computed on whatever set of records is scored (all items, or one group's).
- `value(sums) -> array`: the metric from the column sums; vectorised: each sum has shape (B,) — one per
  resample — or (B, L) with `by`. NaN means undefined (JSON null), never 0.
- `by`: a records column; sums are then kept per level of it (StereoSet's target terms, Adult's sex), so
  macro means and max-min gaps over levels are still functions of sums.
- `cluster`: a records column whose rows resample (and swap) together: the resampling unit of intervals and
  tests (DiscrimEval's decision questions). Default: each record (item, prompt, StereoSet cluster) alone.
- `strata`: resample units within the levels of this column, each keeping its count (StereoSet: within
  target terms, so the official per-term averaging is kept in every resample).
- `test`: the paired test of a comparison: "mcnemar" (exact, on the binary per-item outcome named by
  `outcome` = (indicator column, eligibility column)), "permutation" (paired sign-flip of base/variant per
  unit) or "bootstrap" (two-sided p from the recentred paired bootstrap).
- `headline`: shown in tables and figures by default (the `*_norm` / `*_sum` variants are not).
- `lead`: the one metric the task is ranked by on the leaderboard: the bias measure its paper leads with.
  Without one, the first headline metric leads.
- `statistic`: for a metric that is no function of sums (rank tests between groups of items, such as
  HolisticBias's share of descriptor pairs whose perplexity distributions differ): `statistic(records)` does
  the work that does not depend on the weights once and returns `fn(weights (B, n)) -> (B,)`; `value` is
  then unused and `columns` only names the records the metric counts. Such a metric is compared by paired
  bootstrap (`test="bootstrap"`): a sign-flip permutation swaps sums, which it has none of.

Because every metric but a `statistic` is a function of sums, a bootstrap resample is a weight vector over items
and one matrix product gives all B resampled values (bench/stats/resample.py). Helpers `ratio` and `levels_present`
keep undefined values NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

Columns = dict[str, np.ndarray]
Test = Literal["mcnemar", "permutation", "bootstrap"]
TESTS = {"mcnemar": "mcnemar_exact", "permutation": "paired_permutation", "bootstrap": "paired_bootstrap"}


@dataclass(frozen=True)
class Metric:
    name: str
    columns: Callable[[pd.DataFrame], Columns]
    value: Callable[[Columns], np.ndarray] | None = None
    test: Test = "permutation"
    outcome: tuple[str, str] | None = None
    by: str | None = None
    cluster: str | None = None
    strata: str | None = None
    headline: bool = True
    lead: bool = False
    description: str = ""
    statistic: Callable[[pd.DataFrame], Callable[[np.ndarray], np.ndarray]] | None = None

    def __post_init__(self):
        if (self.value is None) == (self.statistic is None):
            raise ValueError(f"metric {self.name}: give exactly one of value (a function of sums) or statistic")
        if self.statistic is not None and (self.test != "bootstrap" or self.by is not None):
            raise ValueError(f"metric {self.name}: a statistic is compared by test='bootstrap' and takes no `by`")
        if self.test == "mcnemar" and self.outcome is None:
            raise ValueError(f"metric {self.name}: an exact McNemar test needs outcome=(indicator, eligible)")
        if self.test not in TESTS:
            raise ValueError(f"metric {self.name}: test must be one of {sorted(TESTS)}")


def ratio(num, den) -> np.ndarray:
    """num / den, NaN where den == 0."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den == 0, np.nan, num / np.where(den == 0, 1.0, den))


def levels_present(den: np.ndarray) -> np.ndarray:
    """Mask of the `by` levels that hold any weight in each resample ((B, L) -> (B, L) bool)."""
    return np.asarray(den) > 0


def nan_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over the last axis where `mask`, NaN where nothing is present."""
    values = np.where(mask, values, 0.0)
    return ratio(values.sum(axis=-1), mask.sum(axis=-1))


def spread(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """max − min over the last axis where `mask`; NaN with fewer than two levels present."""
    hi = np.where(mask, values, -np.inf).max(axis=-1)
    lo = np.where(mask, values, np.inf).min(axis=-1)
    return np.where(mask.sum(axis=-1) >= 2, hi - lo, np.nan)


@dataclass
class Stats:
    """One metric's per-item statistics over a set of records, ready for sums under any weights."""

    names: list[str]
    x: np.ndarray  # (n, k) float64
    codes: np.ndarray | None  # (n,) level index of `by`, or None
    n_levels: int
    fn: Callable[[np.ndarray], np.ndarray] | None = None  # a `statistic` metric's function of the weights

    def sums(self, weights: np.ndarray) -> Columns:
        """Weighted sums: weights (B, n) -> {name: (B,)} or {name: (B, L)} with `by`."""
        w = np.atleast_2d(weights)
        if self.codes is None:
            s = w @ self.x
            return {c: s[:, j] for j, c in enumerate(self.names)}
        out = np.zeros((w.shape[0], self.n_levels, self.x.shape[1]))
        for level in range(self.n_levels):
            rows = self.codes == level
            out[:, level, :] = w[:, rows] @ self.x[rows]
        return {c: out[:, :, j] for j, c in enumerate(self.names)}


def stats(metric: Metric, records: pd.DataFrame) -> Stats:
    cols = metric.columns(records)
    names = list(cols)
    n = len(records)
    x = np.zeros((n, len(names)))
    for j, c in enumerate(names):
        a = np.asarray(cols[c], dtype=np.float64).reshape(-1)
        if a.shape[0] != n:
            raise ValueError(f"metric {metric.name}: column {c!r} has {a.shape[0]} values for {n} records")
        x[:, j] = a
    if metric.statistic is not None:
        return Stats(names, x, None, 0, metric.statistic(records))
    if metric.by is None:
        return Stats(names, x, None, 0)
    codes, uniques = pd.factorize(records[metric.by].astype(str), sort=True)
    return Stats(names, x, np.asarray(codes), len(uniques))


def evaluate(metric: Metric, values_of: Stats, weights: np.ndarray) -> np.ndarray:
    """The metric under each row of weights: (B, n) -> (B,)."""
    if values_of.fn is not None:
        return np.asarray(values_of.fn(np.atleast_2d(weights)), dtype=np.float64).reshape(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(metric.value(values_of.sums(weights)), dtype=np.float64).reshape(-1)


def value(metric: Metric, records: pd.DataFrame) -> float:
    """The metric on a set of records (every record counted once)."""
    st = stats(metric, records)
    return float(evaluate(metric, st, np.ones((1, len(records))))[0])


def clean(v: float | None) -> float | None:
    """JSON-safe: NaN and inf become None (undefined)."""
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) or math.isinf(v) else v


def values(metrics: Sequence[Metric], records: pd.DataFrame) -> dict[str, float | None]:
    """Every metric on a set of records; undefined values are None."""
    return {m.name: clean(value(m, records)) for m in metrics}


def units(metric: Metric, records: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    """(unit index per record, stratum per unit or None): the resampling structure of a metric."""
    if metric.cluster is None:
        unit = np.arange(len(records))
        keys = records[metric.strata].astype(str).to_numpy() if metric.strata else None
        return unit, keys
    codes, _ = pd.factorize(records[metric.cluster].astype(str), sort=True)
    strata = None
    if metric.strata:
        first = pd.Series(records[metric.strata].astype(str).to_numpy()).groupby(codes).first()
        strata = first.to_numpy()
    return np.asarray(codes), strata


def resampling(metric: Metric) -> str:
    """Words for a metric's resampling unit, e.g. 'items' or 'clusters within target'."""
    unit = f"{metric.cluster} clusters" if metric.cluster else "items"
    return unit + (f" within {metric.strata}" if metric.strata else "")
