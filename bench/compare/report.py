"""Build the comparison of a base run and its variants: the `qdbench.compare/1` JSON document.

Every metric a task declares (bench/metrics/declare.py, the task's `METRICS`) is compared, overall and per
group, with the paired test the declaration names; the interval is always the paired bootstrap over the
metric's resampling unit (items, prompts, StereoSet clusters within target terms, decision questions).

Schema `qdbench.compare/1` (undefined numbers are null):
{
  "schema": "qdbench.compare/1", "qdbench_version", "created",
  "settings": {"n_resamples", "seed", "confidence", "alpha", "correction": "holm"|"bh", "power"},
  "comparisons": [{
    "task", "base": RUN, "variant": RUN, "n_items", "group_fields": [FIELD], "same_weights": bool,
    "skipped": null | "why this pair was not compared",
    "metrics": [{
      "name", "headline", "test": "mcnemar_exact"|"paired_permutation"|"paired_bootstrap",
      "ci": "paired_bootstrap", "resampling": "items"|"<col> clusters"|"... within <col>",
      "overall": ROW, "by_group": {FIELD: {VALUE: ROW}},
      "n_significant_groups": {FIELD: int}, "n_groups_tested": {FIELD: int}}],
    "flips": null | {"pred_column", "overall": FLIP, "by_group": {FIELD: {VALUE: FLIP}},
              "transitions": null | {"categories", "rows": "base", "columns": "variant", "overall",
                                     "by_subset", "by_group"}},
    "plots": {NAME: [paths]}}],
  "cross_task": [{"name", "tasks", "variant", "base": .., "variant_value": .., ROW fields}],
  "variant_pairs": [...]  (with --equal-memory / --pair: variant against variant, bench/compare/equal_memory.py),
  "mechanism": [...]  (with --cka: per-layer CKA on biased vs other answers, bench/compare/mechanism.py)
}
RUN  = {"run", "label", "model", "fingerprint", "variant", "dtype"}
ROW  = {"n_items", "n_counted", "base", "variant", "delta", "ci_low", "ci_high", "se", "p_value", "p_adjusted",
        "significant", "n_undefined_resamples", "mde", "mde_method",
        "discordant": {"base_only", "variant_only", "eligible"} (McNemar only), "mde_discordant" (McNemar only)}
(n_items: paired records; n_counted: those the metric counts, i.e. with a non-zero statistic in either run,
 such as the ambiguous items of accuracy_ambig)
FLIP = {"n_items", "n_flipped", "flip_rate", "became_biased", "stopped_biased"} (the last two with transitions)
Generate-mode pairs (both runs `--mode generate`) compare the generative form's declared metrics (the task's over
parsed answers, parse failures, reasoning statistics; bench/tasks/generative.py), flips on `choice`, and add
flips["reasoning"] = {"n_flipped", "reasoning_delta_mean_flipped", "reasoning_delta_mean_unflipped",
"flipped_with_shorter_reasoning", "flipped_with_longer_reasoning", "flipped_with_same_length",
"became_unparseable", "became_parseable"} (reasoning length in tokens, variant − base).

`p_value` is the named test's raw p; `p_adjusted`/`significant` correct across the groups of one metric and
one group field (Holm by default, BH on request); the overall row is a single test (`p_adjusted` = `p_value`).
The interval and the p can disagree at the margin (a bootstrap percentile interval excluding 0 with an exact
test's p above alpha): they are different procedures, and each row names both. With fewer than 5 resampling
units (bench.stats.resample.MIN_UNITS) the interval, and a bootstrap p, are null. `mde` is the smallest |Δ| the
test would detect with `power` (default 0.8) at this many items (bench/stats/power.py).
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd

from bench import __version__
from bench.compare.pairing import Pair
from bench.metrics import reasoning
from bench.metrics.declare import TESTS, Metric, clean, evaluate, resampling, stats, units
from bench.stats import adjust_pvalues, flip_rate, mcnemar_exact
from bench.stats.flips import BIASED, transition_matrix
from bench.stats.power import mcnemar_mde, normal_mde
from bench.stats.resample import (
    bootstrap_se,
    enough_units,
    paired_bootstrap,
    percentile_interval,
    permutation_null,
    permutation_p,
    recentred_p,
)
from bench.tasks.hooks import Hooks, declared, hooks_of

SCHEMA = "qdbench.compare/1"


def settings(n_resamples: int, seed: int, correction: str, confidence: float = 0.95, alpha: float = 0.05,
             power: float = 0.8) -> dict:
    return {"n_resamples": n_resamples, "seed": seed, "confidence": confidence, "alpha": alpha,
            "correction": correction, "power": power}


def group_fields(pair: Pair) -> list[str]:
    """The fields the base run grouped its metrics by, that both items tables carry."""
    fields = list((pair.base.metrics.get("by_group") or {}).keys())
    return [f for f in fields if f in pair.base_items.columns and f in pair.variant_items.columns]


def _add(a: dict, b: dict) -> dict:
    return {k: a[k] + b[k] for k in a}


def paired_row(metric: Metric, base: pd.DataFrame, variant: pd.DataFrame, cfg: dict,
               keep_draws: bool = False) -> dict:
    """One metric on one set of paired records (base and variant aligned row by row)."""
    n = len(base)
    sb, sv = stats(metric, base), stats(metric, variant)
    ones = np.ones((1, n))
    vb, vv = float(evaluate(metric, sb, ones)[0]), float(evaluate(metric, sv, ones)[0])
    delta = vv - vb
    unit, strata = units(metric, base)
    draws = np.full(cfg["n_resamples"], np.nan)
    if n and np.isfinite(delta) and enough_units(unit, n):
        draws = paired_bootstrap(lambda w: evaluate(metric, sb, w), lambda w: evaluate(metric, sv, w), n,
                                 unit=unit, strata=strata, n_resamples=cfg["n_resamples"], seed=cfg["seed"])
    lo, hi = percentile_interval(draws, cfg["confidence"])
    se = bootstrap_se(draws)
    counted = int(((sb.x != 0).any(axis=1) | (sv.x != 0).any(axis=1)).sum())
    out = {"n_items": n, "n_counted": counted, "base": clean(vb), "variant": clean(vv), "delta": clean(delta),
           "ci_low": clean(lo), "ci_high": clean(hi), "se": clean(se),
           "n_undefined_resamples": int((~np.isfinite(draws)).sum())}
    p = float("nan")
    if metric.test == "mcnemar":
        num, den = metric.outcome
        cb, cv = metric.columns(base), metric.columns(variant)
        eligible = (np.asarray(cb[den]) > 0) & (np.asarray(cv[den]) > 0)
        mc = mcnemar_exact(np.asarray(cb[num])[eligible] > 0, np.asarray(cv[num])[eligible] > 0)
        m = int(eligible.sum())
        if m and np.isfinite(delta):
            p = mc.p_value
        out["discordant"] = {"base_only": mc.b, "variant_only": mc.c, "eligible": m}
        out["mde_discordant"] = clean(mcnemar_mde(m, (mc.b + mc.c) / m if m else 0.0, cfg["alpha"], cfg["power"]))
    elif np.isfinite(delta) and n:
        if metric.test == "permutation":
            def swapped(s):
                pv = _add(sv.sums(1 - s), sb.sums(s))
                pb = _add(sb.sums(1 - s), sv.sums(s))
                with np.errstate(divide="ignore", invalid="ignore"):
                    return np.asarray(metric.value(pv), float) - np.asarray(metric.value(pb), float)
            null = permutation_null(swapped, n, unit=unit, n_permutations=cfg["n_resamples"], seed=cfg["seed"])
            p = permutation_p(null, delta)
        else:
            p = recentred_p(draws, delta)
    out.update(p_value=clean(p), p_adjusted=clean(p), significant=bool(np.isfinite(p) and p < cfg["alpha"]),
               mde=clean(normal_mde(se, cfg["alpha"], cfg["power"])),
               mde_method="normal approximation from the paired bootstrap SE")
    if keep_draws:
        out["_draws"] = draws
    return out


def grouped(row, frames: list[pd.DataFrame], fields: list[str], cfg: dict, keep_draws: bool = False) -> dict:
    """`row(frames, keep_draws)` on all records and on each group of each field (groups read from the first
    frame; all frames are aligned row by row), p corrected across the groups of a field."""
    doc = {"overall": row(frames, keep_draws), "by_group": {}, "n_significant_groups": {}, "n_groups_tested": {}}
    for field in fields:
        values = frames[0][field].astype(str).to_numpy()
        groups = {g: row([f[values == g].reset_index(drop=True) for f in frames], False)
                  for g in sorted(set(values))}
        pvals = [np.nan if r["p_value"] is None else r["p_value"] for r in groups.values()]
        reject, adjusted = adjust_pvalues(pvals, cfg["correction"], cfg["alpha"])
        for r, rej, adj in zip(groups.values(), reject, adjusted, strict=True):
            r["p_adjusted"], r["significant"] = clean(adj), bool(rej)
        doc["by_group"][field] = groups
        doc["n_significant_groups"][field] = int(reject.sum())
        doc["n_groups_tested"][field] = int(np.isfinite(pvals).sum())
    return doc


def _meta(metric: Metric) -> dict:
    return {"name": metric.name, "headline": metric.headline, "test": TESTS[metric.test], "ci": "paired_bootstrap",
            "resampling": resampling(metric)}


def compare_metric(metric: Metric, pair: Pair, fields: list[str], cfg: dict, keep_draws: bool = False) -> dict:
    return {**_meta(metric), **grouped(lambda fr, keep: paired_row(metric, fr[0], fr[1], cfg, keep),
                                       [pair.base_items, pair.variant_items], fields, cfg, keep_draws)}


def _flip(pb: np.ndarray, pv: np.ndarray, kb: np.ndarray | None, kv: np.ndarray | None) -> dict:
    out = {"n_items": int(pb.size), "n_flipped": int((pb != pv).sum()), "flip_rate": clean(flip_rate(pb, pv))}
    if kb is not None:
        out["became_biased"] = int(((kb != BIASED) & (kv == BIASED)).sum())
        out["stopped_biased"] = int(((kb == BIASED) & (kv != BIASED)).sum())
    return out


def compare_flips(hooks, pair: Pair, fields: list[str], pred: str = "pred") -> dict | None:
    """Answer flips where the items have a `pred` column; transitions where the task labels its answers."""
    if pred not in pair.base_items.columns:
        return None
    pb, pv = pair.base_items[pred].to_numpy(), pair.variant_items[pred].to_numpy()
    kb = kv = None
    if hooks.answer_kinds is not None:
        kb, kv = hooks.answer_kinds(pair.base_items), hooks.answer_kinds(pair.variant_items)
    doc = {"pred_column": pred, "overall": _flip(pb, pv, kb, kv), "by_group": {}, "transitions": None}
    for field in fields:
        values = pair.base_items[field].astype(str).to_numpy()
        doc["by_group"][field] = {
            g: _flip(pb[values == g], pv[values == g], None if kb is None else kb[values == g],
                     None if kv is None else kv[values == g]) for g in sorted(set(values))}
    if kb is not None:
        cats = list(hooks.KIND_CATEGORIES)
        cats += sorted((set(kb) | set(kv)) - set(cats))  # e.g. unparseable answers of generative runs

        def matrix(mask: np.ndarray) -> list[list[int]]:
            return transition_matrix(kb[mask], kv[mask], cats).to_numpy().tolist()

        trans = {"categories": cats, "rows": "base", "columns": "variant",
                 "overall": matrix(np.ones(pb.size, bool)), "by_subset": {}, "by_group": {}}
        subset_field = hooks.SUBSET_FIELD
        if subset_field and subset_field in pair.base_items.columns:
            trans["subset_field"] = subset_field
            sv = pair.base_items[subset_field].astype(str).to_numpy()
            trans["by_subset"] = {s: matrix(sv == s) for s in sorted(set(sv))}
        for field in fields:
            values = pair.base_items[field].astype(str).to_numpy()
            trans["by_group"][field] = {g: matrix(values == g) for g in sorted(set(values))}
        doc["transitions"] = trans
    return doc


def task_hooks(name: str) -> Hooks | None:
    """The hooks of a task (its YAML's `scorer:` module, seen through bench/tasks/hooks.py); None where the task
    is unknown here."""
    from bench.errors import UserError
    from bench.tasks.registry import get_task

    try:
        return get_task(name).hook
    except UserError:
        return None


def pair_hooks(pair: Pair) -> Hooks | None:
    """The hook module whose METRICS a pair is compared with: its task's; for runs imported from lm-eval, the
    qdbench task they were exported from (`task.metrics_from`), else multiple-choice accuracy."""
    if pair.base.manifest.get("imported_from") is None:
        return task_hooks(pair.task)
    name = pair.base.manifest["task"].get("metrics_from")
    if name is None:
        from bench.tasks import multiple_choice

        return hooks_of(multiple_choice)
    return task_hooks(name)


def generative(pair: Pair) -> bool:
    """Both runs answered in generate mode (bench/tasks/generative.py)."""
    return reasoning.is_generative(pair.base_items) and reasoning.is_generative(pair.variant_items)


def pair_metrics(hooks, pair: Pair) -> list[Metric]:
    """The task's declared metrics, in the generative form where both runs generated their answers."""
    if generative(pair):
        from bench.tasks.generative import declared_metrics

        return declared_metrics(hooks)
    return declared(hooks)


def skip_reason(hooks, pair: Pair) -> str | None:
    if hooks is None:
        return f"task '{pair.task}' is not defined here (no tasks/*.yaml of that name)"
    metrics = pair_metrics(hooks, pair)
    if not metrics:
        return f"task '{pair.task}' declares no metrics (METRICS in its hook module)"
    for m in metrics:
        for items, who in ((pair.base_items, "base"), (pair.variant_items, "variant")):
            try:
                m.columns(items.head(2))
            except KeyError as e:
                return f"{who} items.parquet lacks column {e} that metric '{m.name}' needs"
    return None


def compare_pair(pair: Pair, cfg: dict, keep_draws: bool = False) -> dict:
    """Every declared metric of the task, overall and per group, plus answer flips, for one pair; a pair
    that cannot be compared comes back with `skipped` set and no metrics."""
    fp = [(r.manifest.get("model") or {}).get("fingerprint") for r in (pair.base, pair.variant)]
    doc = {"task": pair.task, "base": pair.base.describe(), "variant": pair.variant.describe(),
           "n_items": len(pair.base_items), "group_fields": [], "same_weights": bool(fp[0] and fp[0] == fp[1]),
           "skipped": None, "metrics": [], "flips": None, "plots": {}}
    hooks = pair_hooks(pair)
    reason = skip_reason(hooks, pair)
    if reason:
        doc["skipped"] = reason
        return doc
    fields = group_fields(pair)
    doc["group_fields"] = fields
    doc["metrics"] = [compare_metric(m, pair, fields, cfg, keep_draws) for m in pair_metrics(hooks, pair)]
    if generative(pair):
        doc["flips"] = compare_flips(hooks, pair, fields, pred="choice")
        doc["flips"]["reasoning"] = reasoning.flips(pair.base_items, pair.variant_items)
    else:
        doc["flips"] = compare_flips(hooks, pair, fields)
    return doc


def skipped(task: str, base: dict | None, variant: dict | None, reason: str) -> dict:
    """A comparison that could not even be paired (e.g. the runs differ), reported rather than raised."""
    return {"task": task, "base": base, "variant": variant, "n_items": 0, "group_fields": [],
            "same_weights": False, "skipped": reason, "metrics": [], "flips": None, "plots": {}}


def document(comparisons: list[dict], cfg: dict, cross_task: list[dict] | None = None) -> dict:
    for c in comparisons:
        for m in c["metrics"]:
            m["overall"].pop("_draws", None)
    return {"schema": SCHEMA, "qdbench_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "settings": cfg,
            "comparisons": comparisons, "cross_task": cross_task or []}


def rows_frame(comparison: dict) -> pd.DataFrame:
    """One row per (metric, group) of a comparison, for tables and plots."""
    out = []
    for m in comparison["metrics"]:
        meta = {"metric": m["name"], "test": m["test"], "ci": m["ci"], "resampling": m["resampling"],
                "headline": m["headline"]}
        out.append({**meta, "field": None, "group": "overall", **m["overall"]})
        for field, groups in m["by_group"].items():
            for g, r in groups.items():
                out.append({**meta, "field": field, "group": g, **r})
    return pd.DataFrame(out)


def _gap_row(rm: dict, draws_m: np.ndarray, rh: dict, cfg: dict) -> dict:
    """Row of Δ(MNLI accuracy − HANS non-entailment accuracy) from the two tasks' independent paired draws."""
    draws = draws_m - rh.pop("_draws")

    def diff(a, b):
        return None if a is None or b is None else a - b

    delta = diff(rm["delta"], rh["delta"])
    lo, hi = percentile_interval(draws, cfg["confidence"])
    se = bootstrap_se(draws)
    p = recentred_p(draws, delta) if delta is not None else float("nan")
    return {"n_items": rm["n_items"] + rh["n_items"], "base": diff(rm["base"], rh["base"]),
            "variant": diff(rm["variant"], rh["variant"]), "delta": delta, "ci_low": clean(lo),
            "ci_high": clean(hi), "se": clean(se), "p_value": clean(p), "p_adjusted": clean(p),
            "significant": bool(np.isfinite(p) and p < cfg["alpha"]),
            "n_undefined_resamples": int((~np.isfinite(draws)).sum()),
            "mde": clean(normal_mde(se, cfg["alpha"], cfg["power"])),
            "mde_method": "normal approximation from the paired bootstrap SE"}


def nli_gap(mnli: Pair, hans: Pair, cfg: dict) -> dict:
    """Δ of the MNLI − HANS gap (MNLI accuracy − HANS non-entailment accuracy, bench/metrics/nli.py), overall
    and per HANS heuristic: each task's paired bootstrap over its own items, independently (the two sets share
    no items), so the gap's draws are differences of independent draws."""
    m_metric = next(m for m in declared(task_hooks("mnli")) if m.name == "accuracy")
    h_metric = next(m for m in declared(task_hooks("hans")) if m.name == "accuracy_non_entailment")
    rm = paired_row(m_metric, mnli.base_items, mnli.variant_items, cfg, keep_draws=True)
    draws_m = rm.pop("_draws")
    hcfg = {**cfg, "seed": cfg["seed"] + 1}
    overall = _gap_row(rm, draws_m, paired_row(h_metric, hans.base_items, hans.variant_items, hcfg, True), cfg)
    by_group = {}
    if "heuristic" in hans.base_items.columns:
        values = hans.base_items["heuristic"].astype(str).to_numpy()
        groups = {}
        for g in sorted(set(values)):
            rows = values == g
            rh = paired_row(h_metric, hans.base_items[rows].reset_index(drop=True),
                            hans.variant_items[rows].reset_index(drop=True), hcfg, True)
            groups[g] = _gap_row(rm, draws_m, rh, cfg)
        pvals = [np.nan if r["p_value"] is None else r["p_value"] for r in groups.values()]
        reject, adjusted = adjust_pvalues(pvals, cfg["correction"], cfg["alpha"])
        for r, rej, adj in zip(groups.values(), reject, adjusted, strict=True):
            r["p_adjusted"], r["significant"] = clean(adj), bool(rej)
        by_group["heuristic"] = groups
    return {"name": "mnli_minus_hans_non_entailment", "tasks": ["mnli", "hans"], "base": mnli.base.describe(),
            "variant": mnli.variant.describe(), "test": "paired_bootstrap", "ci": "paired_bootstrap",
            "resampling": "items of each task, independently", "headline": True, "overall": overall,
            "by_group": by_group}
