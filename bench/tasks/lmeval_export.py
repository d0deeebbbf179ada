"""qdbench tasks as lm-eval tasks: one folder per task with its YAML and its items, rendered by qdbench.

Each item is written with the context and the full continuations (delimiter included) exactly as qdbench asks
for them, so lm-eval scores the same (context, continuation) pairs: the YAML reads them by field name
(`doc_to_text: qd_context`, `doc_to_choice: qd_choices`, `target_delimiter: ""`) and needs no utils.py. Only
tasks whose items are one shared context with several scored options fit lm-eval's `multiple_choice`; the
others (whole-sentence scoring, generation) are reported as not exportable. Each item also carries the task it
came from (`qd_task`: name and task-file sha256) and, for tasks with qdbench's default item rows, that row
without the model's columns (`qd_row`), so `qdbench import-lmeval` can compare lm-eval's answers with the
task's declared metrics.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from bench.models.requests import LoglikelihoodRequest
from bench.store.atomic import write_bytes, write_json
from bench.tasks.base import MODEL_COLUMNS, Task

PREFIX = "qdbench_"


def exportable_rows(task: Task, docs: list[dict]) -> list[dict] | str:
    """The rows lm-eval will read, or why this task cannot be a multiple_choice task."""
    rows = []
    for doc in docs:
        reqs = task.requests(doc)
        if not reqs or not all(isinstance(r, LoglikelihoodRequest) for r in reqs):
            return "its requests are not log-likelihoods of options"
        if len({r.context for r in reqs}) != 1 or not reqs[0].context:
            return "its options do not share one context (lm-eval's multiple_choice needs one)"
        row = task.record(doc, [_Stub()] * len(reqs))
        if row.get("gold") is None:
            return "its items have no gold option"
        rows.append({"qd_id": task.item_id(doc), "qd_context": reqs[0].context,
                     "qd_choices": [r.continuation for r in reqs], "qd_gold": int(row["gold"]),
                     "qd_group_by": list(dict.fromkeys([*task.spec.group_by, *(task.spec.stratify_by or [])])),
                     "qd_task": {"name": task.name, "sha256": task.file_sha256()},
                     **({"qd_row": {k: v for k, v in row.items() if k not in MODEL_COLUMNS}}
                        if not task.hook.defines("record") else {}),
                     **{f: doc.get(f) for f in task.spec.fields}})
    return rows


class _Stub:
    """A placeholder result: export needs the gold index from `record`, not scores."""

    logprob, is_greedy, n_tokens = 0.0, False, 1


def task_yaml(task: Task, data_file: Path) -> dict:
    return {
        "task": PREFIX + task.name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data_file.resolve())}},
        "test_split": "test",
        "output_type": "multiple_choice",
        "doc_to_text": "qd_context",
        "doc_to_choice": "qd_choices",
        "doc_to_target": "qd_gold",
        "target_delimiter": "",
        "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True},
                        {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True}],
        "metadata": {"version": task.spec.version, "qdbench_task_sha256": task.file_sha256()},
    }


def export(task: Task, rows: list[dict], out: Path, provenance: dict) -> Path:
    """Write OUT/qdbench_<task>/{<task>.yaml, items.jsonl} from `exportable_rows`; the folder."""
    folder = out / (PREFIX + task.name)
    data = folder / "items.jsonl"
    write_bytes(data, "".join(json.dumps(r, default=str) + "\n" for r in rows).encode())
    write_bytes(folder / f"{task.name}.yaml", yaml.safe_dump(task_yaml(task, data), sort_keys=False).encode())
    write_json(folder / "qdbench_export.json",
               json.loads(json.dumps({"task": task.name, "n_items": len(rows), **provenance}, default=str)))
    return folder
