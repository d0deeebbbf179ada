"""Reasoning statistics of generative runs, as plain functions over per-item records.

Per item (from the backend's counts): whether the generation has a reasoning block (`<think>` … `</think>`, or a
closing tag alone where the chat template opened the block), its length in tokens, whether the thinking budget
cut it (closed for the model, or never closed), whether the answer used its whole token budget.
Per run, as declared Metrics (bench/metrics/declare.py, so metrics.json has intervals and the paired comparison
tests each, the shares and lengths by paired bootstrap): the share of parse failures and of answers with a
reasoning block, mean reasoning length (over the items that have a block, and over all items with 0 for none),
the share cut by the budget. Paired flips: the answers that flipped with their change in reasoning length.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.metrics.declare import Metric, clean, ratio

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"  # the reasoning block's tags (answer_extraction reads them too)


def item_stats(text: str, think_tokens: int, forced_close: bool, hit_max_new_tokens: bool) -> dict:
    has_block = THINK_CLOSE in text or THINK_OPEN in text
    return {
        "has_reasoning": has_block,
        "reasoning_tokens": int(think_tokens) if has_block else 0,
        "reasoning_truncated": bool(forced_close or (has_block and THINK_CLOSE not in text)),
        "answer_cut": bool(hit_max_new_tokens),
    }


def _share(col: str):
    def columns(records: pd.DataFrame) -> dict[str, np.ndarray]:
        return {col: records[col].to_numpy(float), "n": np.ones(len(records))}
    return columns


def _per(num: str, den: str):
    return lambda s: ratio(s[num], s[den])


def _failed(records: pd.DataFrame) -> dict[str, np.ndarray]:
    return {"failed": ~records["parsed"].to_numpy(bool), "n": np.ones(len(records))}


def _reasoning(records: pd.DataFrame) -> dict[str, np.ndarray]:
    return {"tokens": records["reasoning_tokens"].to_numpy(float), "block": records["has_reasoning"].to_numpy(bool),
            "n": np.ones(len(records))}


_B = {"test": "bootstrap"}
METRICS = [
    Metric("n_parsed", _share("parsed"), lambda s: np.asarray(s["parsed"], float), headline=False, **_B),
    Metric("parse_failure_rate", _failed, _per("failed", "n"), test="mcnemar", outcome=("failed", "n")),
    Metric("reasoning_share", _reasoning, _per("block", "n"), **_B),
    Metric("reasoning_tokens_mean", _reasoning, _per("tokens", "block"), **_B,
           description="mean reasoning length (tokens) of the answers with a reasoning block"),
    Metric("reasoning_tokens_mean_all", _reasoning, _per("tokens", "n"), **_B,
           description="mean reasoning length (tokens) over all items, 0 without a block"),
    Metric("reasoning_truncated_share", _share("reasoning_truncated"), _per("reasoning_truncated", "n"), **_B),
    Metric("answer_cut_share", _share("answer_cut"), _per("answer_cut", "n"), headline=False, **_B),
    Metric("new_tokens_mean", _share("new_tokens"), _per("new_tokens", "n"), headline=False, **_B),
]
STAT_NAMES = tuple(m.name for m in METRICS)


def is_generative(items: pd.DataFrame) -> bool:
    return {"parsed", "reasoning_tokens", "choice"} <= set(items.columns)


def _mean(x: np.ndarray) -> float | None:
    return clean(np.mean(x)) if len(x) else None


def flips(base: pd.DataFrame, variant: pd.DataFrame) -> dict:
    """Base and variant items aligned row by row: the answers that flipped with their change in reasoning
    length (variant − base, tokens), and answers that stopped or started being parseable."""
    change = variant["reasoning_tokens"].to_numpy(float) - base["reasoning_tokens"].to_numpy(float)
    flipped = base["choice"].to_numpy() != variant["choice"].to_numpy()
    pb, pv = base["parsed"].to_numpy(bool), variant["parsed"].to_numpy(bool)
    return {
        "n_flipped": int(flipped.sum()),
        "reasoning_delta_mean_flipped": _mean(change[flipped]),
        "reasoning_delta_mean_unflipped": _mean(change[~flipped]),
        "flipped_with_shorter_reasoning": int((flipped & (change < 0)).sum()),
        "flipped_with_longer_reasoning": int((flipped & (change > 0)).sum()),
        "flipped_with_same_length": int((flipped & (change == 0)).sum()),
        "became_unparseable": int((pb & ~pv).sum()),
        "became_parseable": int((~pb & pv).sum()),
    }
