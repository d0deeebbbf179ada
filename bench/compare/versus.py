"""Variant against variant on the same items: a distilled student and a quantized variant (or any two variants
of one family), each also against their shared base.

For every metric the task declares, overall and per group (corrected across the groups of a field as in
report.py):
- `direct`: the paired difference B − A, with the metric's own test (exact McNemar, paired permutation or
  paired bootstrap) and the paired bootstrap interval over its resampling unit: report.paired_row with A in the
  base's place.
- `closeness`: which of the two stays closer to the base: |Δ_B| − |Δ_A|, where Δ_X = metric(X) − metric(base);
  positive means A is closer. The interval is the paired bootstrap over the metric's own unit, the three runs
  resampled together (the same unit weights for base, A and B); the p is a paired permutation that swaps A's and
  B's records within each unit, the base held fixed (null: A and B are exchangeable, so neither is closer), or,
  for a metric that declares the bootstrap (a `statistic` has no sums to swap; a level shift breaks the swap's
  exchangeability), the recentred paired bootstrap p of those same draws.

`base` and `variant` in a `direct` row are A's and B's values; in a `closeness` row |Δ_A| and |Δ_B|.
Comparison document (one per task and pair, inside compare.json's "variant_pairs"):
{"task", "base": RUN, "a": RUN, "b": RUN, "n_items", "excluded_nonfinite", "group_fields", "skipped",
 "metrics": [{"name", "headline", "test", "ci", "resampling",
              "direct": {"overall": ROW, "by_group", "n_significant_groups", "n_groups_tested"},
              "closeness": {"test": "paired_permutation" or "paired_bootstrap", "overall": ROW, "by_group", ...}}],
 "flips": FLIPS between A and B (report.compare_flips, A as "base")}
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.compare.pairing import Triple
from bench.compare.report import (
    compare_flips,
    generative,
    group_fields,
    grouped,
    pair_metrics,
    paired_row,
    skip_reason,
    task_hooks,
)
from bench.metrics.declare import TESTS, Metric, clean, evaluate, resampling, stats, units
from bench.stats.power import normal_mde
from bench.stats.resample import (
    bootstrap_se,
    enough_units,
    paired_bootstrap,
    percentile_interval,
    permutation_null,
    permutation_p,
    recentred_p,
)


def _add(x: dict, y: dict) -> dict:
    return {k: x[k] + y[k] for k in x}


def closeness_test(metric: Metric) -> str:
    return TESTS["bootstrap" if metric.test == "bootstrap" else "permutation"]


def _swap_p(metric: Metric, sa, sv, vb: float, delta: float, unit, cfg: dict) -> float:
    """Permutation p of |Δ_B| − |Δ_A|: A's and B's records trade places within each swapped unit."""
    def swapped(s):
        pa, pv = _add(sa.sums(1 - s), sv.sums(s)), _add(sv.sums(1 - s), sa.sums(s))
        with np.errstate(divide="ignore", invalid="ignore"):
            return (np.abs(np.asarray(metric.value(pv), float) - vb)
                    - np.abs(np.asarray(metric.value(pa), float) - vb))
    null = permutation_null(swapped, len(sa.x), unit=unit, n_permutations=cfg["n_resamples"], seed=cfg["seed"])
    return permutation_p(null, delta)


def closeness_row(metric: Metric, base: pd.DataFrame, a: pd.DataFrame, b: pd.DataFrame, cfg: dict) -> dict:
    """|Δ_B| − |Δ_A| for one metric on one set of records (base, A and B aligned row by row)."""
    n = len(base)
    sb, sa, sv = stats(metric, base), stats(metric, a), stats(metric, b)
    ones = np.ones((1, n))
    vb, va, vv = (float(evaluate(metric, s, ones)[0]) for s in (sb, sa, sv))
    da, dv = abs(va - vb), abs(vv - vb)
    delta = dv - da
    unit, strata = units(metric, base)
    draws = np.full(cfg["n_resamples"], np.nan)
    p = float("nan")
    if n and np.isfinite(delta) and enough_units(unit, n):
        def gap(s):
            return lambda w: np.abs(evaluate(metric, s, w) - evaluate(metric, sb, w))
        draws = paired_bootstrap(gap(sa), gap(sv), n, unit=unit, strata=strata, n_resamples=cfg["n_resamples"],
                                 seed=cfg["seed"])
        p = recentred_p(draws, delta) if metric.test == "bootstrap" else _swap_p(metric, sa, sv, vb, delta, unit, cfg)
    lo, hi = percentile_interval(draws, cfg["confidence"])
    se = bootstrap_se(draws)
    counted = int(((sb.x != 0).any(axis=1) | (sa.x != 0).any(axis=1) | (sv.x != 0).any(axis=1)).sum())
    return {"n_items": n, "n_counted": counted, "base": clean(da), "variant": clean(dv), "delta": clean(delta),
            "ci_low": clean(lo), "ci_high": clean(hi), "se": clean(se),
            "n_undefined_resamples": int((~np.isfinite(draws)).sum()), "p_value": clean(p), "p_adjusted": clean(p),
            "significant": bool(np.isfinite(p) and p < cfg["alpha"]),
            "mde": clean(normal_mde(se, cfg["alpha"], cfg["power"])),
            "mde_method": "normal approximation from the paired bootstrap SE",
            "closer": None if not (np.isfinite(p) and p < cfg["alpha"]) else ("a" if delta > 0 else "b")}


def compare_variants(trip: Triple, cfg: dict) -> dict:
    """Every declared metric of the task, direct and closeness, overall and per group, plus the answer flips
    between A and B; skipped (with the reason) where the task or the items do not allow it."""
    between = trip.between()
    doc = {"task": trip.task, "base": trip.base.describe(), "a": trip.a.describe(), "b": trip.b.describe(),
           "n_items": len(trip.base_items), "excluded_nonfinite": trip.excluded_nonfinite, "group_fields": [],
           "skipped": None, "metrics": [], "flips": None}
    hooks = task_hooks(trip.task)
    reason = skip_reason(hooks, between)
    if reason:
        doc["skipped"] = reason
        return doc
    fields = [f for f in group_fields(between) if f in trip.base_items.columns]
    doc["group_fields"] = fields
    frames = [trip.base_items, trip.a_items, trip.b_items]
    for m in pair_metrics(hooks, between):
        doc["metrics"].append({
            "name": m.name, "headline": m.headline, "test": TESTS[m.test], "ci": "paired_bootstrap",
            "resampling": resampling(m),
            "direct": grouped(lambda fr, keep, m=m: paired_row(m, fr[1], fr[2], cfg, keep), frames, fields, cfg),
            "closeness": {"test": closeness_test(m),
                          **grouped(lambda fr, keep, m=m: closeness_row(m, fr[0], fr[1], fr[2], cfg), frames,
                                    fields, cfg)}})
    pred = "choice" if generative(between) else "pred"
    doc["flips"] = compare_flips(hooks, between, fields, pred=pred)
    for m in doc["metrics"]:  # a group's "closer" follows its corrected significance
        for groups in m["closeness"]["by_group"].values():
            for r in groups.values():
                r["closer"] = ("a" if r["delta"] > 0 else "b") if r["significant"] else None
    return doc
