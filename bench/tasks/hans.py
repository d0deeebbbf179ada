"""HANS: the MNLI prompt and answer words; neutral and contradiction both count as non-entailment."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.metrics.nli import HANS_METRICS as METRICS  # noqa: F401


def biased_answers(items: pd.DataFrame, pred: str = "pred") -> tuple[np.ndarray, np.ndarray]:
    """(eligible, biased): the non-entailed pairs, and among them those answered "entailment" (answer word 0),
    i.e. by the syntactic heuristic the pair was built to defeat (mechanism analysis)."""
    eligible = (items["gold"] == 1).to_numpy()
    return eligible, eligible & (items[pred] == 0).to_numpy()
