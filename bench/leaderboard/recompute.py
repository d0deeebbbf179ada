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


def verify(task_name: str, items: pd.DataFrame, reported: dict, path: Path) -> None:
    """Refuse the run unless every reported value equals the recomputed one (and none is missing or extra)."""
    try:
        fresh = _flat(recompute(task_name, items))
    except UserError:
        raise
    except Exception as e:  # a damaged items table makes the task's metric code fail: that is the submission's fault
        raise UserError(f"{path}: metrics cannot be recomputed from items.parquet ({type(e).__name__}: "
                        f"{str(e).splitlines()[0][:200] if str(e) else ''})") from None
    given = _flat(reported)
    for key in sorted(set(fresh) | set(given)):
        if key not in given:
            raise UserError(f"{path}: field '{key}': missing; the task computes it from the items")
        if key not in fresh:
            raise UserError(f"{path}: field '{key}': not a metric the task computes")
        if not _same(given[key], fresh[key]):
            raise UserError(f"{path}: field '{key}': reported {given[key]!r} but the items give {fresh[key]!r}; "
                            "metrics must be recomputable from items.parquet")
