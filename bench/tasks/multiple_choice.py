"""`scorer: multiple_choice`: hooks for any multiple-choice task that needs no Python of its own.

The default requests (one log-likelihood per rendered choice after the rendered prompt) and rows (`pred`,
`pred_norm`, `gold`) come from bench.tasks.base; the declared metrics (bench/metrics/declare.py) are
accuracy, as lm-eval's `acc`, and accuracy with
each option's log-likelihood divided by its length in characters, as lm-eval's `acc_norm`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.metrics.declare import Metric, ratio


def _correct(pred_col: str):
    def columns(df: pd.DataFrame) -> dict[str, np.ndarray]:
        return {"correct": df[pred_col].to_numpy() == df["gold"].to_numpy(), "n": np.ones(len(df))}
    return columns


def _accuracy(s):
    return ratio(s["correct"], s["n"])


METRICS = [Metric("accuracy", _correct("pred"), _accuracy, test="mcnemar", outcome=("correct", "n")),
           Metric("accuracy_norm", _correct("pred_norm"), _accuracy, test="mcnemar", outcome=("correct", "n"),
                  headline=False)]
