"""lm-eval `--log_samples` output (any multiple-choice task) as qdbench run folders, for `qdbench compare`.

A samples line holds the doc, its (context, continuation) arguments and per-option `[log-likelihood, is_greedy]`
in `filtered_resps`. The run's task identity is a digest of every item's prompts and the data's a digest of the
docs' hashes, so two imports pair only when lm-eval asked both models exactly the same questions.

A samples file is someone else's output: every record is checked (a doc that is an object, options that are
numbers, a target that names exactly one option, group fields that are text or numbers) and a bad one is one
error naming the file and doc id. Log-likelihoods that are NaN or infinite are flagged per item (`nonfinite`)
and left out of the metrics, and more than 5 % of them fail the import, as for a scored run
(bench/store/finite.py). Docs of a task qdbench exported (bench/tasks/lmeval_export.py) carry the qdbench
item row (`qd_row`: item id, group fields, gold, the task's own item fields), so the import has every column
that task's declared metrics read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from bench.data.jsonl import read_jsonl, sha256_file
from bench.errors import UserError
from bench.metrics.declare import Metric
from bench.metrics.groups import metrics_doc
from bench.store.finite import NONFINITE, check_fraction
from bench.store.provenance import digest

SCHEMA = "qdbench.run/1"
MODEL_COLUMNS = ("ll", "pred", "pred_norm", NONFINITE)  # what the import computes; the rest is the item's
INT64 = 1 << 63


def task_name(path: Path) -> str:
    """lm-eval names its files samples_<task>_<ISO time>.jsonl."""
    m = re.match(r"samples_(.+)_\d{4}-\d\d-\d\dT[\d.:-]+\.jsonl$", path.name)
    return m.group(1) if m else path.stem.removeprefix("samples_")


def _record_problem(d: dict) -> str | None:
    if "doc_id" not in d or not isinstance(d.get("filtered_resps"), list):
        return "expected an lm-eval --log_samples record with 'doc_id' and 'filtered_resps'"
    where = f"doc_id {d['doc_id']!r}: "
    if not d["filtered_resps"]:
        return where + "'filtered_resps' is empty (no options were scored)"
    if not isinstance(d.get("doc", {}), dict):
        return where + "'doc' is not an object of the item's fields"
    return None


def read_samples(path: Path) -> list[dict]:
    """lm-eval `--log_samples` records, one JSON object per line; errors name the file and line."""
    return read_jsonl(path, _record_problem)


def exported_task(samples: list[dict]) -> dict | None:
    """{"name", "sha256"} of the qdbench task these samples were exported from, or None."""
    found = (samples[0].get("doc") or {}).get("qd_task")
    if isinstance(found, dict) and isinstance(found.get("name"), str) and isinstance(found.get("sha256"), str):
        return {"name": found["name"], "sha256": found["sha256"]}
    return None


def _option(resp, where: str) -> float:
    """One option's log-likelihood from `[ll, is_greedy]` (lm-eval writes numbers or strings)."""
    value = resp[0] if isinstance(resp, list | tuple) and resp else resp
    try:
        if isinstance(value, bool):
            raise TypeError
        return float(value)
    except (TypeError, ValueError, OverflowError):
        raise UserError(f"{where}: 'filtered_resps' is not per-option [log-likelihood, is_greedy]; only "
                        "multiple-choice (loglikelihood) tasks can be imported") from None


def _continuations(args, n: int, where: str) -> list[str]:
    """The options' continuations from `arguments` (a {name: {arg_0, arg_1}} mapping or a list of pairs)."""
    if args is None:
        return [""] * n
    pairs = list(args.values()) if isinstance(args, dict) else args
    conts = [p.get("arg_1") if isinstance(p, dict) else p[1] if isinstance(p, list | tuple) and len(p) > 1 else None
             for p in pairs] if isinstance(pairs, list) else None
    if conts is None or any(not isinstance(c, str) for c in conts):
        raise UserError(f"{where}: 'arguments' is not lm-eval's per-option (context, continuation) pairs")
    return conts if len(conts) == n else [""] * n


def _gold(target, conts: list[str], where: str) -> int:
    """The option index `target` names: an index, or the text of exactly one option."""
    index = None
    if isinstance(target, int) and not isinstance(target, bool):
        index = target
    elif isinstance(target, str) and target.strip().isdigit():
        index = int(target.strip())
    elif isinstance(target, str):
        hits = [i for i, c in enumerate(conts) if c.strip() == target.strip()]
        index = hits[0] if len(hits) == 1 else None
    if index is None or not 0 <= index < len(conts):
        raise UserError(f"{where}: 'target' {_short(target)} is not one of the {len(conts)} options (an index from "
                        "0, or one option's text)")
    return index


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _cell(value, where: str, lists: bool = True):
    """A value that can be an items.parquet cell and a group: text, a number, a bool, null (or, where `lists`,
    a list of those)."""
    if isinstance(value, list) and lists:
        return [_cell(v, where, lists=False) for v in value]
    ok = value is None or isinstance(value, str | bool) or (
        isinstance(value, int) and -INT64 <= value < INT64) or (isinstance(value, float) and math.isfinite(value))
    if not ok:
        raise UserError(f"{where} is {_short(value)}; expected text, a number or null")
    return value


def item_row(sample: dict, path: Path, fields: Sequence[str]) -> dict:
    """One row: the item's own columns (the exported qdbench row where there is one, else id, `fields` and gold)
    and the model's: per-option `ll`, `pred`, `pred_norm` and whether any log-likelihood is non-finite."""
    where = f"{path}: doc_id {_short(sample['doc_id'])}"
    doc = sample.get("doc") or {}
    ll = np.array([_option(r, where) for r in sample["filtered_resps"]], dtype=float)
    conts = _continuations(sample.get("arguments"), len(ll), where)
    gold = _gold(sample.get("target"), conts, where)
    exported = doc.get("qd_row")
    if isinstance(exported, dict):
        row = {str(k): _cell(v, f"{where}: qd_row field {k!r}") for k, v in exported.items()
               if k not in MODEL_COLUMNS}
        if row.get("gold") != gold:
            raise UserError(f"{where}: 'target' {gold} disagrees with the exported item's gold "
                            f"{_short(row.get('gold'))}")
    else:
        row = {"gold": gold}
    row["item_id"] = str(row.get("item_id", doc.get("qd_id", sample["doc_id"])))
    for f in fields:
        row[f] = _cell(doc.get(f, row.get(f)), f"{where}: group field {f!r}", lists=False)
    finite = np.isfinite(ll)
    norm = ll / np.array([max(len(c), 1) for c in conts])
    row.update({"ll": ll.tolist(), "pred": int(ll.argmax()) if finite.all() else -1,
                "pred_norm": int(norm.argmax()) if finite.all() else -1, NONFINITE: not finite.all()})
    return row


def items_table(samples: list[dict], path: Path, fields: Sequence[str]) -> pd.DataFrame:
    items = pd.DataFrame([item_row(s, path, fields) for s in samples])
    dup = items["item_id"][items["item_id"].duplicated()]
    if len(dup):
        raise UserError(f"{path}: item {dup.iloc[0]!r} appears more than once (more than one filter or repeats?); "
                        "expected one line per doc")
    return items


def to_run(path: Path, run_dir: Path, model: str, samples: list[dict], items: pd.DataFrame,
           metrics: Sequence[Metric], group_by: Sequence[str], metrics_from: str | None) -> Path:
    """Write one run folder from one samples file (atomically: a folder appears complete or not at all), its
    metrics `metrics` (declared Metrics) over the finite items, grouped by `group_by`; `metrics_from` names the
    qdbench task whose declaration they are (None: multiple-choice accuracy)."""
    from bench.store.atomic import staged_dir, write_json
    from bench.store.runs import INTEGRITY, ITEMS, MANIFEST, METRICS

    bad = items[NONFINITE].to_numpy(dtype=bool)
    check_fraction(int(bad.sum()), len(items), str(path))
    finite = items[~bad].reset_index(drop=True)
    task = "lm-eval:" + task_name(path)
    try:
        metrics_json = {**metrics_doc(task, finite, metrics, [f for f in group_by if f in items.columns]),
                        "n_nonfinite": int(bad.sum())}
    except (TypeError, ValueError, KeyError) as e:  # e.g. a group field holding text in one doc, a number in another
        raise UserError(f"{path}: the docs' fields do not make one table of items ({type(e).__name__}: {e})") from None
    prompts = digest([[s["doc_id"], s.get("arguments")] for s in samples])
    file_sha = sha256_file(path)
    manifest = {
        "schema": SCHEMA, "status": "complete",
        "run_key": digest({"samples": file_sha, "model": model}),
        "imported_from": {"tool": "lm-eval", "file": str(path.resolve()), "sha256": file_sha},
        "model": {"spec": model, "kind": "lm-eval", "fingerprint": {}, "backend": "lm-eval"},
        "variant": {"family": None, "name": model, "recipe": None, "recipe_hash": None},
        "task": {"name": task, "version": None, "yaml_sha256": prompts, "template_hash": prompts, "options": {},
                 "metrics_from": metrics_from},
        "data": {"origin": "lm-eval samples", "files_sha256": {"docs": digest([s.get("doc_hash") for s in samples])},
                 "n_items": len(items), "n_items_available": len(items), "n_nonfinite": int(bad.sum()),
                 "limit": None},
    }
    if run_dir.exists():
        raise UserError(f"{run_dir} exists; remove it or import into another --out")
    with staged_dir(run_dir) as tmp:
        try:
            items.to_parquet(tmp / ITEMS, index=False)
        except (pa.ArrowException, TypeError, ValueError) as e:
            raise UserError(f"{path}: the docs' fields do not make one table of items ({e})") from None
        write_json(tmp / METRICS, metrics_json)
        write_json(tmp / MANIFEST, {**manifest, INTEGRITY: {n: sha256_file(tmp / n) for n in (ITEMS, METRICS)}})
    return run_dir
