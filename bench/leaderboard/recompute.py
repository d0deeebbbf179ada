"""Re-verify a run's metrics: recompute them from its items through the task's own metric code.

`recompute` is the single place that calls the task's metric declaration, so the run, the comparison and the
submission check cannot disagree about what a metric means.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from bench.errors import UserError

REL_TOL, ABS_TOL = 1e-9, 1e-12


def recompute(task_name: str, items: pd.DataFrame) -> dict:
    """The metrics document the task computes for these items (schema qdbench.metrics/1)."""
    from bench.tasks.registry import get_task

    return get_task(task_name).metrics(items)


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, int | float) or not isinstance(b, int | float):
        return False
    return math.isclose(float(a), float(b), rel_tol=REL_TOL, abs_tol=ABS_TOL)


def _flat(doc: dict) -> dict[str, object]:
    out = {f"metrics.{k}": v for k, v in (doc.get("metrics") or {}).items()}
    for field, groups in (doc.get("by_group") or {}).items():
        for group, values in groups.items():
            out.update({f"by_group.{field}.{group}.{k}": v for k, v in values.items()})
    return out


def verify(task_name: str, items: pd.DataFrame, reported: dict, path: Path) -> dict:
    """The recomputed metrics document, once every reported value equals its recomputed value.

    A reported value the task does not compute is refused; one the report lacks (a run made before the task
    gained that metric) is filled in from the items, since pages show the recomputed document."""
    try:
        doc = recompute(task_name, items)
        fresh = _flat(doc)
    except UserError:
        raise
    except Exception as e:  # a damaged items table makes the task's metric code fail: that is the submission's fault
        raise UserError(f"{path}: metrics cannot be recomputed from items.parquet ({type(e).__name__}: "
                        f"{str(e).splitlines()[0][:200] if str(e) else ''})") from None
    given = _flat(reported)
    if not given:
        raise UserError(f"{path}: field 'metrics': empty; a run reports the task's metrics")
    for key in sorted(given):
        if key not in fresh:
            raise UserError(f"{path}: field '{key}': not a metric the task computes")
        if not _same(given[key], fresh[key]):
            raise UserError(f"{path}: field '{key}': reported {given[key]!r} but the items give {fresh[key]!r}; "
                            "metrics must be recomputable from items.parquet")
    return doc
