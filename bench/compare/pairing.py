"""Load runs and pair a base run with a variant run item by item, refusing pairs that are not comparable.

Two runs are paired only if they saw the same task file, prompt template and decoding settings, the same
data files and exactly the same items — the same ids, and on every item the same content hash, gold answer,
group and data fields (`Task.item_columns`); otherwise a delta would mix the compression effect with a change
of the test itself (or with an edited items.parquet). The refusal names every field that differs. Which items
are non-finite is recomputed from their values, whatever their `nonfinite` column says.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import UserError
from bench.store.finite import check_fraction, nonfinite_mask
from bench.store.provenance import ITEM_HASH
from bench.store.runs import load_run


@dataclass
class Run:
    path: Path
    manifest: dict
    metrics: dict
    items: pd.DataFrame

    @property
    def task(self) -> str:
        return self.manifest["task"]["name"]

    @property
    def label(self) -> str:
        """A short human name: the variant name, else the model's folder/spec."""
        variant = self.manifest.get("variant") or {}
        if variant.get("name") not in (None, "base"):
            return str(variant["name"])
        model = self.manifest.get("model") or {}
        if model.get("kind") == "local" and model.get("spec"):
            return Path(str(model["spec"]).rstrip("/")).name
        return str(model.get("spec") or self.path.parent.name)

    def describe(self) -> dict:
        model = self.manifest.get("model") or {}
        return {"run": str(self.path), "label": self.label, "model": model.get("spec"),
                "fingerprint": (model.get("fingerprint") or {}).get("sha256"),
                "variant": self.manifest.get("variant"), "dtype": model.get("dtype")}


def load(path: Path) -> Run:
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such run folder")
    manifest, metrics, items = load_run(path)
    for key in ("task", "data"):
        if not isinstance(manifest.get(key), dict):
            raise UserError(f"{path}/manifest.json: field '{key}' missing; not a qdbench run manifest")
    if "item_id" not in items.columns:
        raise UserError(f"{path}/items.parquet: no 'item_id' column")
    dup = items["item_id"][items["item_id"].duplicated()]
    if len(dup):
        raise UserError(f"{path}/items.parquet: item_id {dup.iloc[0]!r} appears more than once")
    return Run(path, manifest, metrics, items)


# (what it is, where it sits in the manifest); every one must be equal for two runs to pair.
CHECKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("task", ("task", "name")),
    ("task version", ("task", "version")),
    ("task file (prompts, choices, scoring)", ("task", "yaml_sha256")),
    ("prompt template and decoding settings", ("task", "template_hash")),
    ("decoding settings", ("task", "generation")),
    ("scoring mode (log-likelihood or generate)", ("settings", "mode")),
    ("data files (sha256)", ("data", "files_sha256")),
    ("metrics declaration of imported runs", ("task", "metrics_from")),
)


def _get(manifest: dict, path: tuple[str, ...]):
    node = manifest
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _short(value) -> str:
    text = str(value)
    return text[:16] + "…" if len(text) > 19 else text


def differences(base: Run, variant: Run) -> list[str]:
    """Human-readable list of what stops these two runs from being paired (empty: they pair)."""
    out = []
    for what, path in CHECKS:
        a, b = _get(base.manifest, path), _get(variant.manifest, path)
        if a != b:
            out.append(f"{what} differ ({'.'.join(path)}: {_short(a)} vs {_short(b)})")
    ids_a, ids_b = set(base.items["item_id"]), set(variant.items["item_id"])
    if ids_a != ids_b:
        only_a, only_b = sorted(ids_a - ids_b), sorted(ids_b - ids_a)
        parts = []
        if only_a:
            parts.append(f"{len(only_a)} only in base (e.g. {only_a[0]!r})")
        if only_b:
            parts.append(f"{len(only_b)} only in variant (e.g. {only_b[0]!r})")
        out.append("items differ: " + ", ".join(parts) + " — run both with the same --limit, --seed and data")
    else:
        out.extend(item_differences(base, variant))
    return out


def item_columns(task_name: str) -> list[str]:
    """The task's item-defining columns; for a task not defined here (an imported lm-eval run), id, content hash
    and gold."""
    from bench.tasks.registry import get_task

    try:
        return get_task(task_name).item_columns()
    except UserError:
        return ["item_id", ITEM_HASH, "gold"]


def _same(a, b) -> bool:
    if _missing(a) or _missing(b):
        return _missing(a) and _missing(b)
    if isinstance(a, list | tuple | np.ndarray) or isinstance(b, list | tuple | np.ndarray):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def item_differences(base: Run, variant: Run) -> list[str]:
    """The item-defining columns on which two runs of the same item ids disagree, each with a count and an
    example (the content hash is compared where both runs have one: runs made before it was recorded lack it)."""
    a = base.items.set_index("item_id")
    b = variant.items.set_index("item_id").reindex(a.index)
    out = []
    for col in item_columns(base.task):
        if col == "item_id" or (col not in a.columns and col not in b.columns):
            continue
        if (col in a.columns) != (col in b.columns):
            if col != ITEM_HASH:
                out.append(f"field '{col}' is in the {'base' if col in a.columns else 'variant'} run's items only")
            continue
        differ = np.array([not _same(x, y) for x, y in zip(a[col].tolist(), b[col].tolist(), strict=True)])
        if col == ITEM_HASH:
            differ &= a[col].notna().to_numpy() & b[col].notna().to_numpy()
        if differ.any():
            i = int(differ.argmax())
            out.append(f"field '{col}' differs on {int(differ.sum())} of {len(a)} items (e.g. item {a.index[i]!r}: "
                       f"{_short(a[col].iloc[i])} vs {_short(b[col].iloc[i])})")
    return out


@dataclass
class Pair:
    """Base and variant items aligned row by row (base order); items non-finite in either run are left out of
    both, and counted."""

    base: Run
    variant: Run
    base_items: pd.DataFrame
    variant_items: pd.DataFrame
    excluded_nonfinite: int = 0

    @property
    def task(self) -> str:
        return self.base.task


def align(base: Run, *others: Run) -> tuple[list[pd.DataFrame], int]:
    """The runs' items row by row in the base's order, each checked to pair with the base; items non-finite in
    any run are left out of all, and counted."""
    for other in others:
        diffs = differences(base, other)
        if diffs:
            raise UserError(f"cannot pair {other.path} with base {base.path}: " + "; ".join(diffs))
    bad = set()
    columns = item_columns(base.task)
    for run in (base, *others):
        mask = nonfinite_mask(run.items, columns)
        check_fraction(int(mask.sum()), len(run.items), f"cannot compare {run.path}")
        bad |= set(run.items["item_id"][mask.to_numpy()])
    b = base.items[~base.items["item_id"].isin(bad)].reset_index(drop=True)
    return [b] + [o.items.set_index("item_id").loc[b["item_id"]].reset_index() for o in others], len(bad)


def pair(base: Run, variant: Run) -> Pair:
    (b, v), bad = align(base, variant)
    return Pair(base, variant, b, v, bad)


@dataclass
class Triple:
    """A base and two of its variants on the same items, aligned row by row: the variant-against-variant
    comparison (a quantized variant and a distilled student of about equal memory)."""

    base: Run
    a: Run
    b: Run
    base_items: pd.DataFrame
    a_items: pd.DataFrame
    b_items: pd.DataFrame
    excluded_nonfinite: int = 0

    @property
    def task(self) -> str:
        return self.base.task

    def between(self) -> Pair:
        """A and B as a pair (A in the base's place): their direct paired difference and answer flips."""
        return Pair(self.a, self.b, self.a_items, self.b_items, self.excluded_nonfinite)


def triple(base: Run, a: Run, b: Run) -> Triple:
    (bi, ai, vi), bad = align(base, a, b)
    return Triple(base, a, b, bi, ai, vi, bad)


def require_columns(run: Run, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in run.items.columns]
    if missing:
        raise UserError(f"{run.path}/items.parquet: missing column(s) {', '.join(missing)} needed to compare "
                        f"task '{run.task}'")
