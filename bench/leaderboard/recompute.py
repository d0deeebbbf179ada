"""Re-verify a run's metrics: recompute them from its items through the task's metric declaration.

`recompute` builds metrics.json exactly as a run does (bench/exec/local.py): the task's `Task.metrics` on the
finite items only (recomputed from the values, whatever the `nonfinite` column says), plus `n_nonfinite`; so
the run, the comparison and the submission check cannot disagree about what a metric means. Every reported
number is compared, the bootstrap `intervals` included (they are seeded, so a run and its re-verification draw
the same resamples).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from bench.errors import UserError
from bench.store.finite import check_fraction, nonfinite_mask

REL_TOL, ABS_TOL = 1e-9, 1e-12
NOT_COMPARED = ("schema", "task")  # identity fields, checked by the schema and against the manifest


def recompute(task_name: str, items: pd.DataFrame, where: str = "items.parquet") -> dict:
    """The metrics document a run writes for these items (schema qdbench.metrics/1)."""
    from bench.tasks.registry import get_task

    task = get_task(task_name)
    bad = nonfinite_mask(items, task.item_columns())
    check_fraction(int(bad.sum()), len(items), where)
    return {**task.metrics(items[~bad]), "n_nonfinite": int(bad.sum())}


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, int | float) or not isinstance(b, int | float):
        return a == b
    return math.isclose(float(a), float(b), rel_tol=REL_TOL, abs_tol=ABS_TOL)


def _flat(doc: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in doc.items():
        if not prefix and k in NOT_COMPARED:
            continue
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{key}."))
        else:
            out[key] = v
    return out


def verify(task_name: str, items: pd.DataFrame, reported: dict, path: Path) -> dict:
    """The recomputed metrics document, once every reported value equals its recomputed value.

    A reported value the task does not compute is refused; one the report lacks (a run made before the task
    gained that metric, or before runs recorded intervals) is filled in from the items, since pages show the
    recomputed document."""
    try:
        doc = recompute(task_name, items, str(path.parent / "items.parquet"))
        fresh = _flat(doc)
    except UserError:
        raise
    except Exception as e:  # a damaged items table makes the task's metric code fail: that is the submission's fault
        raise UserError(f"{path}: metrics cannot be recomputed from items.parquet ({type(e).__name__}: "
                        f"{str(e).splitlines()[0][:200] if str(e) else ''})") from None
    if not reported.get("metrics"):
        raise UserError(f"{path}: field 'metrics': empty; a run reports the task's metrics")
    given = _flat(reported)
    for key in sorted(given):
        if key not in fresh:
            raise UserError(f"{path}: field '{key}': not a value the task computes")
        if not _same(given[key], fresh[key]):
            raise UserError(f"{path}: field '{key}': reported {given[key]!r} but the items give {fresh[key]!r}; "
                            "metrics must be recomputable from items.parquet")
    return doc
