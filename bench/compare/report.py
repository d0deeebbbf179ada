"""Build the comparison of a base run and its variants: the `qdbench.compare/1` JSON document.

Schema `qdbench.compare/1` (undefined numbers are null):
{
  "schema": "qdbench.compare/1", "qdbench_version", "created",
  "settings": {"n_resamples", "seed", "confidence", "alpha", "correction": "holm"|"bh"},
  "comparisons": [{
    "task", "base": RUN, "variant": RUN, "n_items", "group_fields": [FIELD], "same_weights": bool,
    "metrics": [{
      "name", "test": "mcnemar_exact"|"paired_permutation", "ci": "paired_bootstrap"|
      "paired_bootstrap_stratified", "overall": ROW, "by_group": {FIELD: {VALUE: ROW}},
      "n_significant_groups": {FIELD: int}, "n_groups_tested": {FIELD: int}}],
    "flips": {"pred_column", "overall": FLIP, "by_group": {FIELD: {VALUE: FLIP}},
              "transitions": null | {"categories": [..], "rows": "base", "columns": "variant",
                                     "overall": [[int]], "by_subset": {VALUE: [[int]]},
                                     "by_group": {FIELD: {VALUE: [[int]]}}}},
    "reasoning": null | REASONING (both runs generative),
    "plots": {"deltas": [paths], "transitions": [paths]}}]
}
RUN  = {"run", "label", "model", "fingerprint", "variant", "dtype"}
ROW  = {"n_items", "base", "variant", "delta", "ci_low", "ci_high", "p_value", "p_adjusted", "significant",
        "n_undefined_resamples", "discordant": {"base_only_correct", "variant_only_correct"} (McNemar only)}
REASONING = {"n_items", "deltas": {NAME: {"base", "variant", "delta", "ci_low", "ci_high"}} (paired bootstrap;
             reasoning_tokens_mean_all, reasoning_share, parse_success_rate, reasoning_truncated_share),
             "flips": {"n_flipped", "reasoning_delta_mean_flipped", ..., "became_wrong", "became_right"}}
FLIP = {"n_items", "n_flipped", "flip_rate", "became_biased", "stopped_biased"} (the last two with transitions)

`p_value` is the test's raw p-value; `p_adjusted`/`significant` correct across the groups of one metric and
one group field (Holm by default, BH on request). The overall row is a single test per metric: its
`p_adjusted` equals `p_value`. Corrections are per comparison (one variant vs base), not across variants.
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd

from bench import __version__
from bench.compare.pairing import Pair, require_columns
from bench.compare.registry import MetricDef, TaskComparator, comparator_for
from bench.metrics import reasoning
from bench.metrics.groups import clean
from bench.stats import adjust_pvalues, flip_rate, mcnemar_exact, paired_bootstrap, paired_permutation_test
from bench.stats.flips import BIASED, transition_matrix

SCHEMA = "qdbench.compare/1"


def settings(n_resamples: int, seed: int, correction: str, confidence: float = 0.95, alpha: float = 0.05) -> dict:
    return {"n_resamples": n_resamples, "seed": seed, "confidence": confidence, "alpha": alpha,
            "correction": correction}


def group_fields(pair: Pair) -> list[str]:
    """The fields the base run grouped its metrics by, that both items tables carry."""
    fields = list((pair.base.metrics.get("by_group") or {}).keys())
    return [f for f in fields if f in pair.base_items.columns and f in pair.variant_items.columns]


def _row(metric: MetricDef, cb: dict, cv: dict, rows: np.ndarray, strata: np.ndarray | None,
         cfg: dict) -> dict:
    sub_b = {k: v[rows] for k, v in cb.items()}
    sub_v = {k: v[rows] for k, v in cv.items()}
    boot = paired_bootstrap(metric.metric, sub_b, sub_v, n_resamples=cfg["n_resamples"], seed=cfg["seed"],
                            strata=None if strata is None else strata[rows], confidence=cfg["confidence"])
    out = {"n_items": int(rows.sum()), "base": clean(boot.base), "variant": clean(boot.variant),
           "delta": clean(boot.delta), "ci_low": clean(boot.ci_low), "ci_high": clean(boot.ci_high)}
    if metric.test == "mcnemar":
        mc = mcnemar_exact(sub_b["correct"] > 0, sub_v["correct"] > 0)
        p = mc.p_value if rows.any() else float("nan")
        out["discordant"] = {"base_only_correct": mc.b, "variant_only_correct": mc.c}
    else:
        p = paired_permutation_test(metric.metric, sub_b, sub_v, n_permutations=cfg["n_resamples"],
                                    seed=cfg["seed"])
    out.update(p_value=clean(p), p_adjusted=clean(p), significant=bool(np.isfinite(p) and p < cfg["alpha"]),
               n_undefined_resamples=boot.n_undefined)
    return out


def compare_metric(metric: MetricDef, pair: Pair, cb: dict, cv: dict, fields: list[str], cfg: dict) -> dict:
    subset = metric.rows(pair.base_items)
    strata = pair.base_items[fields[0]].astype(str).to_numpy() if metric.stratify and fields else None
    doc = {"name": metric.name, "test": "mcnemar_exact" if metric.test == "mcnemar" else "paired_permutation",
           "ci": "paired_bootstrap_stratified" if strata is not None else "paired_bootstrap",
           "stratified_by": fields[0] if strata is not None else None,
           "overall": _row(metric, cb, cv, subset, strata, cfg),
           "by_group": {}, "n_significant_groups": {}, "n_groups_tested": {}}
    for field in fields:
        values = pair.base_items[field].astype(str).to_numpy()
        groups = {g: _row(metric, cb, cv, subset & (values == g), None, cfg) for g in sorted(set(values))}
        pvals = [np.nan if r["p_value"] is None else r["p_value"] for r in groups.values()]
        reject, adjusted = adjust_pvalues(pvals, cfg["correction"], cfg["alpha"])
        for r, rej, adj in zip(groups.values(), reject, adjusted, strict=True):
            r["p_adjusted"], r["significant"] = clean(adj), bool(rej)
        doc["by_group"][field] = groups
        doc["n_significant_groups"][field] = int(reject.sum())
        doc["n_groups_tested"][field] = int(np.isfinite(pvals).sum())
    return doc


def _flip(pb: np.ndarray, pv: np.ndarray, kb: np.ndarray | None, kv: np.ndarray | None) -> dict:
    out = {"n_items": int(pb.size), "n_flipped": int((pb != pv).sum()), "flip_rate": clean(flip_rate(pb, pv))}
    if kb is not None:
        out["became_biased"] = int(((kb != BIASED) & (kv == BIASED)).sum())
        out["stopped_biased"] = int(((kb == BIASED) & (kv != BIASED)).sum())
    return out


def compare_flips(comp: TaskComparator, pair: Pair, fields: list[str]) -> dict:
    pb = pair.base_items[comp.pred_column].to_numpy()
    pv = pair.variant_items[comp.pred_column].to_numpy()
    kb = kv = None
    if comp.answer_kinds is not None:
        kb, kv = comp.answer_kinds(pair.base_items), comp.answer_kinds(pair.variant_items)
    doc = {"pred_column": comp.pred_column, "overall": _flip(pb, pv, kb, kv), "by_group": {}, "transitions": None}
    for field in fields:
        values = pair.base_items[field].astype(str).to_numpy()
        doc["by_group"][field] = {
            g: _flip(pb[values == g], pv[values == g], None if kb is None else kb[values == g],
                     None if kv is None else kv[values == g]) for g in sorted(set(values))}
    if kb is not None:
        cats = list(comp.kind_categories)
        cats += sorted((set(kb) | set(kv)) - set(cats))  # e.g. unparseable answers of generative runs

        def matrix(mask: np.ndarray) -> list[list[int]]:
            return transition_matrix(kb[mask], kv[mask], cats).to_numpy().tolist()

        trans = {"categories": cats, "rows": "base", "columns": "variant",
                 "overall": matrix(np.ones(pb.size, bool)), "by_subset": {}, "by_group": {}}
        if comp.subset_field and comp.subset_field in pair.base_items.columns:
            trans["subset_field"] = comp.subset_field
            sv = pair.base_items[comp.subset_field].astype(str).to_numpy()
            trans["by_subset"] = {s: matrix(sv == s) for s in sorted(set(sv))}
        for field in fields:
            values = pair.base_items[field].astype(str).to_numpy()
            trans["by_group"][field] = {g: matrix(values == g) for g in sorted(set(values))}
        doc["transitions"] = trans
    return doc


def compare_pair(pair: Pair, cfg: dict) -> dict:
    """Every metric of the task, overall and per group, plus answer flips, for one base/variant pair."""
    comp = comparator_for(pair.task, list(pair.base_items.columns))
    for run in (pair.base, pair.variant):
        require_columns(run, comp.required)
    fields = group_fields(pair)
    cb, cv = comp.columns(pair.base_items), comp.columns(pair.variant_items)
    fp = [(r.manifest.get("model") or {}).get("fingerprint") for r in (pair.base, pair.variant)]
    both_generative = reasoning.is_generative(pair.base_items) and reasoning.is_generative(pair.variant_items)
    return {
        "task": pair.task,
        "base": pair.base.describe(),
        "variant": pair.variant.describe(),
        "n_items": len(pair.base_items),
        "group_fields": fields,
        "same_weights": bool(fp[0] and fp[0] == fp[1]),
        "metrics": [compare_metric(m, pair, cb, cv, fields, cfg) for m in comp.metrics],
        "flips": compare_flips(comp, pair, fields),
        "reasoning": reasoning.paired(pair.base_items, pair.variant_items, cfg["n_resamples"], cfg["seed"],
                                      cfg["confidence"]) if both_generative else None,
        "plots": {},
    }


def document(comparisons: list[dict], cfg: dict) -> dict:
    return {"schema": SCHEMA, "qdbench_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "settings": cfg,
            "comparisons": comparisons}


def rows_frame(comparison: dict) -> pd.DataFrame:
    """One row per (metric, group) of a comparison, for tables and plots."""
    out = []
    for m in comparison["metrics"]:
        out.append({"metric": m["name"], "field": None, "group": "overall", **m["overall"]})
        for field, groups in m["by_group"].items():
            for g, r in groups.items():
                out.append({"metric": m["name"], "field": field, "group": g, **r})
    return pd.DataFrame(out)
