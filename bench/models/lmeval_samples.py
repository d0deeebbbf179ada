"""lm-eval `--log_samples` output (any multiple-choice task) as qdbench run folders, for `qdbench compare`.

A samples line holds the doc, its (context, continuation) arguments and per-option `[log-likelihood, is_greedy]`
in `filtered_resps`. The run's task identity is a digest of every item's prompts and the data's a digest of the
docs' hashes, so two imports pair only when lm-eval asked both models exactly the same questions.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd

from bench.data.jsonl import read_jsonl
from bench.errors import UserError
from bench.store.provenance import digest

SCHEMA = "qdbench.run/1"


def task_name(path: Path) -> str:
    """lm-eval names its files samples_<task>_<ISO time>.jsonl."""
    m = re.match(r"samples_(.+)_\d{4}-\d\d-\d\dT[\d.:-]+\.jsonl$", path.name)
    return m.group(1) if m else path.stem.removeprefix("samples_")


def read_samples(path: Path) -> list[dict]:
    """lm-eval `--log_samples` records, one JSON object per line; errors name the file and line."""
    return read_jsonl(path, lambda d: None if "doc_id" in d and isinstance(d.get("filtered_resps"), list) else
                      "expected an lm-eval --log_samples record with 'doc_id' and 'filtered_resps'")


def _option(resp, path: Path, doc_id) -> float:
    """One option's log-likelihood from `[ll, is_greedy]` (lm-eval writes numbers or strings)."""
    try:
        value = resp[0] if isinstance(resp, list | tuple) else resp
        return float(value)
    except (TypeError, ValueError, IndexError):
        raise UserError(f"{path}: doc_id {doc_id}: 'filtered_resps' is not per-option [log-likelihood, is_greedy]; "
                        "only multiple-choice (loglikelihood) tasks can be imported") from None


def item_row(sample: dict, path: Path, fields: list[str]) -> dict:
    doc = sample.get("doc") or {}
    ll = np.array([_option(r, path, sample["doc_id"]) for r in sample["filtered_resps"]])
    args = sample.get("arguments") or {}
    conts = [a.get("arg_1", "") for a in args.values()] if isinstance(args, dict) else []
    if len(conts) != len(ll):
        conts = [""] * len(ll)
    target = sample.get("target")
    try:
        gold = int(target)
    except (TypeError, ValueError):
        gold = [c.strip() for c in conts].index(str(target).strip()) if str(target).strip() in \
            [c.strip() for c in conts] else -1
    norm = ll / np.array([max(len(c), 1) for c in conts])
    row = {"item_id": str(doc.get("qd_id", sample["doc_id"]))}
    row.update({f: doc.get(f) for f in fields})
    row.update({"ll": ll.tolist(), "pred": int(ll.argmax()), "pred_norm": int(norm.argmax()), "gold": gold})
    return row


def to_run(path: Path, run_dir: Path, model: str, fields: list[str] | None = None) -> Path:
    """Write one run folder from one samples file (atomically: a folder appears complete or not at all)."""
    from bench.store.atomic import staged_dir, write_json
    from bench.store.runs import sealed

    samples = read_samples(path)
    first = samples[0].get("doc") or {}
    if fields is None:  # a task qdbench exported names its group fields
        fields = [f for f in first.get("qd_group_by") or [] if f in first]
    rows = [item_row(s, path, fields) for s in samples]
    items = pd.DataFrame(rows)
    if not items["item_id"].is_unique:
        raise UserError(f"{path}: doc ids repeat (more than one filter or repeats?); expected one line per doc")
    prompts = digest([[s["doc_id"], s.get("arguments")] for s in samples])
    task = "lm-eval:" + task_name(path)
    correct = (items["pred"] == items["gold"]).to_numpy()
    metrics = {"metrics": {"accuracy": float(correct.mean()),
                           "accuracy_norm": float((items["pred_norm"] == items["gold"]).mean())},
               "by_group": {f: {str(k): {"accuracy": float((g["pred"] == g["gold"]).mean())}
                                for k, g in items.groupby(f)} for f in fields}}
    manifest = {
        "schema": SCHEMA, "status": "complete",
        "run_key": digest({"samples": hashlib.sha256(path.read_bytes()).hexdigest(), "model": model}),
        "imported_from": {"tool": "lm-eval", "file": str(path.resolve()),
                          "sha256": hashlib.sha256(path.read_bytes()).hexdigest()},
        "model": {"spec": model, "kind": "lm-eval", "fingerprint": None, "backend": "lm-eval"},
        "variant": {"family": None, "name": model, "recipe": None, "recipe_hash": None},
        "task": {"name": task, "version": None, "yaml_sha256": prompts, "template_hash": prompts},
        "data": {"files_sha256": {"docs": digest([s.get("doc_hash") for s in samples])}, "n_items": len(items)},
    }
    if run_dir.exists():
        raise UserError(f"{run_dir} exists; remove it or import into another --out")
    with staged_dir(run_dir) as tmp:
        items.to_parquet(tmp / "items.parquet", index=False)
        write_json(tmp / "metrics.json", metrics)
        write_json(tmp / "manifest.json", sealed(tmp, manifest))
    return run_dir
