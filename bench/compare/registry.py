"""Per-task comparison recipes: which metrics to compare, from which per-item columns, with which test.

A task registers a `TaskComparator` in `COMPARATORS` (task name -> comparator). Each metric is a
`SumMetric` (a function of column sums, so the paired bootstrap resamples it as a ratio of sums) over a
subset of items, tested with exact McNemar (paired correctness) or a paired permutation test (anything else,
e.g. bias scores). Tasks with no comparator but `pred`/`gold` columns get plain accuracy and flips.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from bench.stats import ACCURACY

Columns = dict[str, np.ndarray]


@dataclass(frozen=True)
class MetricDef:
    """One compared metric; `name` matches the task's metrics.json key."""

    name: str
    metric: object  # bench.stats.SumMetric
    test: Literal["mcnemar", "permutation"]
    subset: Callable[[pd.DataFrame], np.ndarray] | None = None
    # Ratio metrics (bias scores) are bootstrapped with each group keeping its size: the group mix of a
    # resample must not drift, or the ratio's interval mixes group composition into the model effect.
    stratify: bool = False

    def rows(self, items: pd.DataFrame) -> np.ndarray:
        return np.ones(len(items), bool) if self.subset is None else np.asarray(self.subset(items), bool)


@dataclass(frozen=True)
class TaskComparator:
    """How to compare two runs of one task."""

    task: str
    required: tuple[str, ...]
    columns: Callable[[pd.DataFrame], Columns]  # per-item columns for the SumMetrics, from items.parquet
    metrics: tuple[MetricDef, ...]
    pred_column: str = "pred"
    # Optional answer labels (e.g. unknown / biased / anti_biased) for transition matrices.
    answer_kinds: Callable[[pd.DataFrame], np.ndarray] | None = None
    kind_categories: tuple[str, ...] = ()
    # An items column that splits the transition analysis (BBQ: context_condition).
    subset_field: str | None = None
    # Named item subsets for representation similarity, from an items-like frame (task fields, the task's
    # item_fields and `gold`; no predictions). None: all items only.
    probe_subsets: Callable[[pd.DataFrame], dict[str, np.ndarray]] | None = None
    notes: list[str] = field(default_factory=list)


def accuracy_columns(items: pd.DataFrame, pred: str = "pred") -> Columns:
    correct = (items[pred].to_numpy() == items["gold"].to_numpy()).astype(np.float64)
    return {"correct": correct, "n": np.ones(len(items))}


GENERIC = TaskComparator(
    task="*", required=("pred", "gold"), columns=accuracy_columns,
    metrics=(MetricDef("accuracy", ACCURACY, "mcnemar"),),
)


def parse_columns(items: pd.DataFrame) -> Columns:
    return {"correct": items["parsed"].to_numpy(bool).astype(np.float64), "n": np.ones(len(items))}


# Generate-mode runs of tasks without pred/gold (StereoSet, CrowS-Pairs, DiscrimEval): whether an answer could be
# read, and which option was chosen (flips); the reasoning comparison comes on top (bench/metrics/reasoning.py).
GENERATIVE = TaskComparator(
    task="*", required=("choice", "parsed"), columns=parse_columns,
    metrics=(MetricDef("parse_success_rate", ACCURACY, "mcnemar"),), pred_column="choice",
)


def _bbq() -> TaskComparator:
    from bench.compare.bbq import COMPARATOR

    return COMPARATOR


COMPARATORS: dict[str, Callable[[], TaskComparator]] = {"bbq": _bbq}


def comparator_for(task: str, items_columns: list[str]) -> TaskComparator:
    """The task's registered comparator, else plain accuracy where the items have pred and gold."""
    if task in COMPARATORS:
        return COMPARATORS[task]()
    if all(c in items_columns for c in GENERIC.required):
        return GENERIC
    if all(c in items_columns for c in GENERATIVE.required):
        return GENERATIVE
    from bench.errors import UserError

    raise UserError(f"task '{task}' has no comparison registered (bench/compare/registry.py COMPARATORS) and "
                    "its items.parquet has no 'pred' and 'gold' columns to compare accuracy")
