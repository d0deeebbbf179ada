"""Non-finite model outputs (NaN or ±inf log-likelihoods, scores) found per item, flagged, and kept out of
metrics.

A model with one NaN weight gives NaN for every item and `argmax` then picks option 0, so an unflagged run
would report a confident accuracy. Each item row carries `nonfinite`; metrics use only the finite items and
say how many were left out; a run where more than MAX_NONFINITE_FRACTION of the items are non-finite fails,
since its model (or dtype) is broken rather than a few items unlucky.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from bench.errors import UserError

NONFINITE = "nonfinite"
MAX_NONFINITE_FRACTION = 0.05  # above 5 % of the items the run fails (exit 2)


def _bad(value) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int | float | np.floating | np.integer):
        return not math.isfinite(float(value))
    if isinstance(value, list | tuple | np.ndarray):
        return any(_bad(v) for v in value)
    return False


def flag_row(row: dict, results: Iterable, data_fields: Iterable[str] = ()) -> dict:
    """`row` with `nonfinite` set: True if a backend result's log-probability or a value the task computed from
    the model (not a field copied from the data) is NaN or infinite."""
    skip = {"item_id", *data_fields}
    bad = any(_bad(getattr(r, "logprob", None)) for r in results) or any(
        _bad(v) for k, v in row.items() if k not in skip)
    return {**row, NONFINITE: bool(bad)}


def nonfinite_mask(items: pd.DataFrame) -> pd.Series:
    """Which items are non-finite: the `nonfinite` column, or for runs written before it, any list-valued column
    (log-likelihoods, scores) holding NaN or inf."""
    if NONFINITE in items.columns:
        return items[NONFINITE].fillna(False).astype(bool)
    mask = pd.Series(False, index=items.index)
    for col in items.columns:
        first = items[col].dropna().head(1)
        if len(first) and isinstance(first.iloc[0], list | tuple | np.ndarray):
            mask |= items[col].map(_bad)
    return mask


def check_fraction(n_bad: int, n: int, where: str) -> None:
    """A UserError when more than MAX_NONFINITE_FRACTION of `n` items are non-finite."""
    if n and n_bad / n > MAX_NONFINITE_FRACTION:
        raise UserError(f"{where}: {n_bad} of {n} items have non-finite (NaN or infinite) log-likelihoods or "
                        f"scores, more than the {MAX_NONFINITE_FRACTION:.0%} allowed; the model's weights or dtype "
                        "are broken (check the weights for NaN, or try --dtype float32)")
