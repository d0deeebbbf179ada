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


def nonfinite_mask(items: pd.DataFrame, item_columns: Iterable[str] = ()) -> pd.Series:
    """Which items hold a NaN or infinite value in a column the model produced (log-likelihoods, scores,
    predictions: every column but `item_columns`, which describe the item), recomputed from the values: a
    `nonfinite` column, which anyone can edit, is never trusted."""
    skip = {"item_id", NONFINITE, *item_columns}
    mask = np.zeros(len(items), dtype=bool)
    for col in items.columns:
        if col in skip:
            continue
        values = items[col]
        if pd.api.types.is_float_dtype(values.dtype):
            mask |= ~np.isfinite(values.to_numpy(dtype=float))
        elif values.dtype == object:
            mask |= values.map(_bad).to_numpy(dtype=bool)
    return pd.Series(mask, index=items.index)


def flag_mismatch(items: pd.DataFrame, bad: pd.Series) -> str | None:
    """The first item whose `nonfinite` column disagrees with `bad` (the recomputed mask), described; or None."""
    if NONFINITE not in items.columns:
        return None
    flagged = items[NONFINITE].fillna(False).astype(bool).to_numpy()
    differ = flagged != bad.to_numpy()
    if not differ.any():
        return None
    i = int(differ.argmax())
    return (f"field '{NONFINITE}' of item {items['item_id'].iloc[i]!r} is {bool(flagged[i])}, but its "
            f"log-likelihoods or scores are {'not ' if bad.iloc[i] else ''}all finite (items that disagree: "
            f"{int(differ.sum())}); the flag is recomputed from the values, never trusted")


def check_fraction(n_bad: int, n: int, where: str) -> None:
    """A UserError when more than MAX_NONFINITE_FRACTION of `n` items are non-finite."""
    if n and n_bad / n > MAX_NONFINITE_FRACTION:
        raise UserError(f"{where}: {n_bad} of {n} items have non-finite (NaN or infinite) log-likelihoods or "
                        f"scores, more than the {MAX_NONFINITE_FRACTION:.0%} allowed; the model's weights or dtype "
                        "are broken (check the weights for NaN, or try --dtype float32)")
