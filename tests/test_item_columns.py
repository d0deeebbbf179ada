"""What an item is, declared once per task (`Task.item_columns`): a base and its variant must agree on it item by
item, and a run writes each item's content hash."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bench.compare.pairing import Run, differences
from bench.data import store
from bench.tasks.registry import list_tasks


@pytest.mark.parametrize("task", [t for t in list_tasks() if hasattr(t.hooks, "item_fields")], ids=lambda t: t.name)
def test_item_fields_hooks_name_every_column_they_write(task):
    doc = store.load(task.spec, sample=True).docs[0]
    assert tuple(task.hooks.item_fields(doc)) == task.hooks.ITEM_FIELDS
    assert set(task.hooks.ITEM_FIELDS) <= set(task.item_columns())


def _run(items: dict) -> Run:
    manifest = {"task": {"name": "bbq"}, "data": {"files_sha256": {}}}
    return Run(path=Path("r"), manifest=manifest, metrics={}, items=pd.DataFrame(items))


def test_a_variant_that_disagrees_on_an_item_is_named_with_a_count_and_an_example():
    base = _run({"item_id": ["a", "b", "c"], "gold": [0, 1, 2], "category": ["Age", "Age", "SES"],
                 "pred": [0, 0, 0]})
    same = _run({"item_id": ["c", "b", "a"], "gold": [2, 1, 0], "category": ["SES", "Age", "Age"],
                 "pred": [1, 1, 1]})  # other order, other answers: pairs
    assert differences(base, same) == []
    shifted = _run({"item_id": ["a", "b", "c"], "gold": [1, 2, 0], "category": ["Age", "Age", "Religion"],
                    "pred": [0, 0, 0]})
    found = differences(base, shifted)
    assert found == ["field 'category' differs on 1 of 3 items (e.g. item 'c': SES vs Religion)",
                     "field 'gold' differs on 3 of 3 items (e.g. item 'a': 0 vs 1)"]
    dropped = _run({"item_id": ["a", "b", "c"], "gold": [0, 1, 2], "pred": [0, 0, 0]})
    assert differences(base, dropped) == ["field 'category' is in the base run's items only"]


def test_the_item_hash_is_compared_where_both_runs_have_it():
    base = _run({"item_id": ["a", "b"], "gold": [0, 1], "item_hash": ["h1", "h2"]})
    older = _run({"item_id": ["a", "b"], "gold": [0, 1]})  # a run made before item hashes were recorded
    assert differences(base, older) == []
    assert differences(base, _run({"item_id": ["a", "b"], "gold": [0, 1], "item_hash": ["h1", None]})) == []
    other = _run({"item_id": ["a", "b"], "gold": [0, 1], "item_hash": ["h1", "h9"]})
    assert differences(base, other) == ["field 'item_hash' differs on 1 of 2 items (e.g. item 'b': h2 vs h9)"]


def test_a_run_records_each_items_content_hash(family_runs):
    from bench.store.provenance import ITEM_HASH

    (path,) = (family_runs / "tiny-llama" / "base" / "bbq").rglob("items.parquet")
    items = pd.read_parquet(path)
    assert items[ITEM_HASH].str.fullmatch(r"[0-9a-f]{16}").all() and items[ITEM_HASH].is_unique
    (other,) = (family_runs / "tiny-llama" / "rtn-w4a16" / "bbq").rglob("items.parquet")
    assert pd.read_parquet(other)[ITEM_HASH].tolist() == items[ITEM_HASH].tolist()
