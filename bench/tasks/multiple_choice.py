"""`scorer: multiple_choice`: hooks for any multiple-choice task that needs no Python of its own.

The default requests (one log-likelihood per rendered choice after the rendered prompt) and rows (`pred`,
`pred_norm`, `gold`) come from bench.tasks.base; the metrics are accuracy, as lm-eval's `acc`, and accuracy with
each option's log-likelihood divided by its length in characters, as lm-eval's `acc_norm`.
"""

from __future__ import annotations

import pandas as pd


def compute(df: pd.DataFrame) -> dict[str, float | None]:
    if not len(df):
        return {"accuracy": None, "accuracy_norm": None}
    return {"accuracy": float((df["pred"] == df["gold"]).mean()),
            "accuracy_norm": float((df["pred_norm"] == df["gold"]).mean())}
