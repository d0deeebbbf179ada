"""NLI robustness metrics: MNLI accuracy, HANS accuracy by gold label, and the spurious gaps (McCoy et al. 2019).

The prompt's answer words are ordered entailment (0), neutral (1), contradiction (2). On HANS a prediction of
neutral or contradiction counts as non-entailment. HANS gap = accuracy on entailment − accuracy on
non-entailment (a model leaning on lexical overlap scores high on the first, low on the second); the MNLI–HANS
gap = MNLI accuracy − HANS non-entailment accuracy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.metrics.declare import Metric, ratio

MNLI_LABELS = ("entailment", "neutral", "contradiction")


def _mean(mask: np.ndarray) -> float | None:
    return float(mask.mean()) if mask.size else None


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def mnli_metrics(pred: np.ndarray, gold: np.ndarray) -> dict[str, float | None]:
    pred, gold = np.asarray(pred), np.asarray(gold)
    out = {"accuracy": _mean(pred == gold)}
    for i, name in enumerate(MNLI_LABELS):
        out[f"accuracy_{name}"] = _mean(pred[gold == i] == i)
    return out


def hans_metrics(pred: np.ndarray, gold: np.ndarray) -> dict[str, float | None]:
    """`pred` over the three answer words, `gold` 0 = entailment, 1 = non-entailment."""
    pred_entail, gold_entail = np.asarray(pred) == 0, np.asarray(gold) == 0
    correct = pred_entail == gold_entail
    ent, non = _mean(correct[gold_entail]), _mean(correct[~gold_entail])
    return {"accuracy": _mean(correct), "accuracy_entailment": ent, "accuracy_non_entailment": non,
            "gap_entailment_minus_non_entailment": _diff(ent, non), "rate_entailment": _mean(pred_entail)}


def spurious_gaps(mnli: dict, hans: dict) -> dict[str, float | None]:
    """From an MNLI and a HANS metrics.json of the same model: both gaps overall and MNLI − HANS per heuristic."""
    m_acc = mnli["metrics"].get("accuracy")
    h = hans["metrics"]
    out = {"mnli_accuracy": m_acc, "hans_accuracy_entailment": h.get("accuracy_entailment"),
           "hans_accuracy_non_entailment": h.get("accuracy_non_entailment"),
           "hans_gap_entailment_minus_non_entailment": h.get("gap_entailment_minus_non_entailment"),
           "mnli_minus_hans_non_entailment": _diff(m_acc, h.get("accuracy_non_entailment"))}
    for heuristic, vals in sorted(hans.get("by_group", {}).get("heuristic", {}).items()):
        out[f"mnli_minus_hans_non_entailment_{heuristic}"] = _diff(m_acc, vals.get("accuracy_non_entailment"))
    return out


# -- the declared metrics (bench/metrics/declare.py); the functions above are the reference -------------------

def _mnli_columns(pred_col: str):
    def columns(df: pd.DataFrame) -> dict[str, np.ndarray]:
        pred, gold = df[pred_col].to_numpy(), df["gold"].to_numpy()
        out = {"correct": pred == gold, "n": np.ones(len(df))}
        for i, name in enumerate(MNLI_LABELS):
            out[f"correct_{name}"], out[f"n_{name}"] = (pred == gold) & (gold == i), gold == i
        return out
    return columns


def _hans_columns(pred_col: str):
    def columns(df: pd.DataFrame) -> dict[str, np.ndarray]:
        pred_entail, gold_entail = df[pred_col].to_numpy() == 0, df["gold"].to_numpy() == 0
        correct = pred_entail == gold_entail
        return {"correct": correct, "n": np.ones(len(df)), "correct_entailment": correct & gold_entail,
                "n_entailment": gold_entail, "correct_non_entailment": correct & ~gold_entail,
                "n_non_entailment": ~gold_entail, "pred_entail": pred_entail}
    return columns


def _acc(num: str, den: str):
    return lambda s: ratio(s[num], s[den])


def declare_mnli(pred_col: str = "pred", suffix: str = "", headline: bool = True) -> list[Metric]:
    cols = _mnli_columns(pred_col)
    out = [Metric("accuracy" + suffix, cols, _acc("correct", "n"), test="mcnemar", outcome=("correct", "n"),
                  headline=headline)]
    for name in MNLI_LABELS:
        out.append(Metric(f"accuracy_{name}{suffix}", cols, _acc(f"correct_{name}", f"n_{name}"), test="mcnemar",
                          outcome=(f"correct_{name}", f"n_{name}"), headline=headline))
    return out


def declare_hans(pred_col: str = "pred", suffix: str = "", headline: bool = True) -> list[Metric]:
    cols = _hans_columns(pred_col)

    def gap(s):
        return ratio(s["correct_entailment"], s["n_entailment"]) - ratio(s["correct_non_entailment"],
                                                                         s["n_non_entailment"])
    acc = {"test": "mcnemar", "headline": headline}
    return [Metric("accuracy" + suffix, cols, _acc("correct", "n"), outcome=("correct", "n"), **acc),
            Metric("accuracy_entailment" + suffix, cols, _acc("correct_entailment", "n_entailment"),
                   outcome=("correct_entailment", "n_entailment"), **acc),
            Metric("accuracy_non_entailment" + suffix, cols, _acc("correct_non_entailment", "n_non_entailment"),
                   outcome=("correct_non_entailment", "n_non_entailment"), **acc),
            Metric("gap_entailment_minus_non_entailment" + suffix, cols, gap, headline=headline),
            Metric("rate_entailment" + suffix, cols, _acc("pred_entail", "n"), test="mcnemar",
                   outcome=("pred_entail", "n"), headline=False)]


MNLI_METRICS = declare_mnli() + declare_mnli("pred_norm", "_norm", headline=False)
HANS_METRICS = declare_hans() + declare_hans("pred_norm", "_norm", headline=False)
