"""Reasoning statistics of generative runs, as plain functions over per-item records.

Per item (from the backend's counts): whether the generation has a reasoning block (`<think>` … `</think>`, or a
closing tag alone where the chat template opened the block), its length in tokens, whether the thinking budget
cut it (closed for the model, or never closed), whether the answer used its whole token budget.
Per run: the share of parse failures and of answers with a reasoning block, mean reasoning length (over the
items that have a block, and over all items with 0 for none), the share cut by the budget.
Paired (base vs variant, items aligned): the change in reasoning length with a paired bootstrap interval, and
the answers that flipped together with their change in reasoning length.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.tasks.answer_extraction import THINK_CLOSE, THINK_OPEN

STAT_NAMES = ("n_parsed", "parse_failure_rate", "reasoning_share", "reasoning_tokens_mean",
              "reasoning_tokens_mean_all", "reasoning_truncated_share", "answer_cut_share", "new_tokens_mean")


def item_stats(text: str, think_tokens: int, forced_close: bool, hit_max_new_tokens: bool) -> dict:
    has_block = THINK_CLOSE in text or THINK_OPEN in text
    return {
        "has_reasoning": has_block,
        "reasoning_tokens": int(think_tokens) if has_block else 0,
        "reasoning_truncated": bool(forced_close or (has_block and THINK_CLOSE not in text)),
        "answer_cut": bool(hit_max_new_tokens),
    }


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if len(x) else float("nan")


def run_stats(df: pd.DataFrame) -> dict[str, float]:
    parsed = df["parsed"].to_numpy(bool)
    block = df["has_reasoning"].to_numpy(bool)
    tokens = df["reasoning_tokens"].to_numpy(float)
    return {
        "n_parsed": float(parsed.sum()),
        "parse_failure_rate": _mean(~parsed),
        "reasoning_share": _mean(block),
        "reasoning_tokens_mean": _mean(tokens[block]),
        "reasoning_tokens_mean_all": _mean(tokens),
        "reasoning_truncated_share": _mean(df["reasoning_truncated"].to_numpy(bool)),
        "answer_cut_share": _mean(df["answer_cut"].to_numpy(bool)),
        "new_tokens_mean": _mean(df["new_tokens"].to_numpy(float)),
    }


def is_generative(items: pd.DataFrame) -> bool:
    return {"parsed", "reasoning_tokens", "choice"} <= set(items.columns)


def paired(base: pd.DataFrame, variant: pd.DataFrame, n_resamples: int = 10_000, seed: int = 0,
           confidence: float = 0.95) -> dict:
    """Base and variant items aligned row by row: Δ reasoning length (variant − base, mean over items, paired
    bootstrap interval), Δ shares, and flipped answers with their reasoning-length change."""
    from bench.stats import SumMetric, paired_bootstrap

    def mean_of(col: str) -> SumMetric:
        return SumMetric(col, (col, "n"), lambda s: s[col] / np.where(s["n"] == 0, np.nan, s["n"]))

    cols = {"reasoning_tokens": float, "has_reasoning": bool, "parsed": bool, "reasoning_truncated": bool,
            "new_tokens": float}
    cb = {c: base[c].to_numpy(t).astype(float) for c, t in cols.items()} | {"n": np.ones(len(base))}
    cv = {c: variant[c].to_numpy(t).astype(float) for c, t in cols.items()} | {"n": np.ones(len(variant))}
    deltas = {}
    for name, col in (("reasoning_tokens_mean_all", "reasoning_tokens"), ("reasoning_share", "has_reasoning"),
                      ("parse_success_rate", "parsed"), ("reasoning_truncated_share", "reasoning_truncated"),
                      ("new_tokens_mean", "new_tokens")):
        boot = paired_bootstrap(mean_of(col), cb, cv, n_resamples=n_resamples, seed=seed, confidence=confidence)
        deltas[name] = {"base": _clean(boot.base), "variant": _clean(boot.variant), "delta": _clean(boot.delta),
                        "ci_low": _clean(boot.ci_low), "ci_high": _clean(boot.ci_high)}
    change = cv["reasoning_tokens"] - cb["reasoning_tokens"]
    flipped = base["choice"].to_numpy() != variant["choice"].to_numpy()
    out = {"n_items": int(len(base)), "deltas": deltas, "flips": {
        "n_flipped": int(flipped.sum()),
        "reasoning_delta_mean_flipped": _clean(_mean(change[flipped])),
        "reasoning_delta_mean_unflipped": _clean(_mean(change[~flipped])),
        "flipped_with_shorter_reasoning": int((flipped & (change < 0)).sum()),
        "flipped_with_longer_reasoning": int((flipped & (change > 0)).sum()),
        "flipped_with_same_length": int((flipped & (change == 0)).sum()),
        "became_unparseable": int((cb["parsed"] > 0).sum() - ((cb["parsed"] > 0) & (cv["parsed"] > 0)).sum()),
        "became_parseable": int((cv["parsed"] > 0).sum() - ((cb["parsed"] > 0) & (cv["parsed"] > 0)).sum()),
    }}
    if "gold" in base.columns and base["gold"].notna().all():
        gold = base["gold"].to_numpy()
        ok_b, ok_v = base["choice"].to_numpy() == gold, variant["choice"].to_numpy() == gold
        out["flips"]["became_wrong"] = int((ok_b & ~ok_v).sum())
        out["flips"]["became_right"] = int((~ok_b & ok_v).sum())
        out["flips"]["reasoning_delta_mean_became_wrong"] = _clean(_mean(change[ok_b & ~ok_v]))
        out["flips"]["reasoning_delta_mean_became_right"] = _clean(_mean(change[~ok_b & ok_v]))
    return out


def _clean(v) -> float | None:
    from bench.metrics.groups import clean

    return clean(v)
