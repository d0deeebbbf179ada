"""Metrics overall and per group, with a 95% bootstrap interval on each, in the metrics.json schema.

Schema `qdbench.metrics/1`: {"schema", "task", "metrics": {NAME: value}, "by_group": {FIELD: {VALUE:
{NAME: value}}}, "n_items", "by_group_n", "intervals"}. An undefined value (e.g. 0/0) is null, never 0.

"intervals" (added in place; readers of the keys above are unaffected): {"method": "percentile_bootstrap",
"confidence", "n_resamples", "seed", "metrics": {NAME: IV}, "by_group": {FIELD: {VALUE: {NAME: IV}}}} with
IV = {"low", "high", "se", "resampling"}: the percentile interval and the bootstrap standard error of a
single run's value (null with fewer than 5 resampling units), resampling what the metric declares (items,
prompts, clusters within target terms, decision questions). It is the noise a reader should see before
comparing two runs (lm-eval's stderr).
Only declared metrics (bench/metrics/declare.py) get intervals; a task's `extra(records)` values (e.g.
DiscrimEval's MixedLM fit with its own Wald interval as `_lo`/`_hi`) are reported as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from bench.metrics.declare import Metric, clean, evaluate, resampling, stats, units
from bench.stats.resample import bootstrap, bootstrap_se, enough_units, percentile_interval

SCHEMA = "qdbench.metrics/1"
N_RESAMPLES, SEED, CONFIDENCE = 1000, 0, 0.95


def intervals(metrics: Sequence[Metric], records: pd.DataFrame, n_resamples: int = N_RESAMPLES,
              seed: int = SEED, confidence: float = CONFIDENCE) -> dict[str, dict]:
    """Per metric {"low", "high", "se", "resampling"}; metrics that resample alike share their resamples."""
    out: dict[str, dict] = {}
    if not len(records):
        return {m.name: {"low": None, "high": None, "se": None, "resampling": resampling(m)} for m in metrics}
    by_scheme: dict[tuple, list[Metric]] = {}
    for m in metrics:
        by_scheme.setdefault((m.cluster, m.strata), []).append(m)
    for group in by_scheme.values():
        unit, strata = units(group[0], records)
        st = [stats(m, records) for m in group]

        def fn(w, group=group, st=st):
            return np.column_stack([evaluate(m, s, w) for m, s in zip(group, st, strict=True)])

        if enough_units(unit, len(records)):
            draws = bootstrap(fn, len(records), unit=unit, strata=strata, n_resamples=n_resamples, seed=seed)
        else:
            draws = np.full((n_resamples, len(group)), np.nan)
        for j, m in enumerate(group):
            lo, hi = percentile_interval(draws[:, j], confidence)
            out[m.name] = {"low": clean(lo), "high": clean(hi), "se": clean(bootstrap_se(draws[:, j])),
                           "resampling": resampling(m)}
    return out


def _values(metrics: Sequence[Metric], extra: Callable | None, records: pd.DataFrame) -> dict[str, float | None]:
    vals = {m.name: clean(evaluate(m, stats(m, records), np.ones((1, len(records))))[0]) for m in metrics}
    if extra is not None:
        vals.update({k: clean(v) for k, v in extra(records).items()})
    return vals


def metrics_doc(task: str, records: pd.DataFrame, metrics: Sequence[Metric] | Callable[[pd.DataFrame], dict],
                group_by: Sequence[str], extra: Callable[[pd.DataFrame], dict] | None = None,
                n_resamples: int = N_RESAMPLES, seed: int = SEED) -> dict:
    """`metrics`: the task's declared Metrics (or, for an undeclared task, a `compute(records)` function)."""
    if callable(metrics):
        declared, extra = [], metrics
    else:
        declared = list(metrics)
    doc = {
        "schema": SCHEMA,
        "task": task,
        "n_items": len(records),
        "metrics": _values(declared, extra, records),
        "by_group": {},
        "by_group_n": {},
    }
    iv = {"method": "percentile_bootstrap", "confidence": CONFIDENCE, "n_resamples": n_resamples, "seed": seed,
          "metrics": intervals(declared, records, n_resamples, seed), "by_group": {}}
    for field in group_by:
        doc["by_group"][field] = {}
        doc["by_group_n"][field] = {}
        iv["by_group"][field] = {}
        for value, part in records.groupby(field, sort=True):
            part = part.reset_index(drop=True)
            doc["by_group"][field][str(value)] = _values(declared, extra, part)
            doc["by_group_n"][field][str(value)] = len(part)
            iv["by_group"][field][str(value)] = intervals(declared, part, n_resamples, seed)
    if declared:
        doc["intervals"] = iv
    return doc
