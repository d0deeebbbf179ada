"""qdbench import-lmeval SAMPLES_JSONL... --out RUNS [--model NAME]"""

from __future__ import annotations

import sys
from pathlib import Path

from bench.errors import UserError


def add_parser(sub) -> None:
    p = sub.add_parser("import-lmeval", help="turn lm-eval --log_samples files into run folders for compare")
    p.add_argument("samples", nargs="+", type=Path, help="samples_<task>_<time>.jsonl files written by lm-eval")
    p.add_argument("--out", type=Path, default=Path("runs"), help="runs folder (default: runs/)")
    p.add_argument("--model", help="the model's name in the runs folder (default: the samples file's folder name)")
    p.add_argument("--fields", help="comma-separated doc fields to keep as group columns")
    p.set_defaults(func=import_lmeval)


def import_lmeval(args) -> int:
    """Every samples file is read and checked, and every run folder named, before the first is written."""
    from bench.cli.checks import out_folder
    from bench.models.lmeval_samples import (
        MODEL_COLUMNS,
        exported_task,
        items_table,
        read_samples,
        task_name,
        to_run,
    )
    from bench.safepath import confined

    out_folder(args.out)
    for path in args.samples:
        if not path.is_file():
            raise UserError(f"{path}: no such samples file")
    fields = [f for f in args.fields.split(",") if f] if args.fields else None
    clash = sorted(set(fields or ()) & {"item_id", "gold", *MODEL_COLUMNS})
    if clash:
        raise UserError(f"--fields {args.fields}: {', '.join(clash)} is a column the import writes itself")
    plans = []
    for path in args.samples:
        model = args.model if args.model is not None else _slug(path.resolve().parent.name)
        run_dir = confined(args.out, model, f"lmeval-{task_name(path)}",
                           what=f"--model / the task name of {path.name}")
        if run_dir.exists() or any(run_dir == p[1] for p in plans):
            raise UserError(f"{run_dir} exists or is named twice by this import; remove it, import into another "
                            "--out, or give another --model")
        samples = read_samples(path)
        first = samples[0].get("doc") or {}
        use = fields if fields is not None else [f for f in first.get("qd_group_by") or [] if f in first]
        metrics, group_by, metrics_from = declaration(exported_task(samples), use)
        plans.append((path, run_dir, model, samples, items_table(samples, path, use), metrics, group_by,
                      metrics_from))
    for path, run_dir, model, samples, items, metrics, group_by, metrics_from in plans:
        run = to_run(path, run_dir, model, samples, items, metrics, group_by, metrics_from)
        print(f"run folder: {run}  (metrics of {f'task {metrics_from}' if metrics_from else 'multiple choice'})")
    return 0


def declaration(exported: dict | None, fields: list[str]) -> tuple[list, list[str], str | None]:
    """(declared metrics, group fields, the task they are from): those of the qdbench task the samples were
    exported from where that task is here with the same task file, else multiple-choice accuracy by `fields`."""
    from bench.tasks import multiple_choice
    from bench.tasks.hooks import declared
    from bench.tasks.registry import list_tasks

    if exported is not None:
        task = next((t for t in list_tasks() if t.name == exported["name"]), None)
        if task is not None and task.file_sha256() == exported["sha256"]:
            return task.declared_metrics, [*task.spec.group_by], task.name
        why = "is not defined here" if task is None else "has changed since the export"
        print(f"note: task '{exported['name']}' {why}; the import is scored with multiple-choice accuracy",
              file=sys.stderr)
    return declared(multiple_choice), fields, None


def _slug(text: str) -> str:
    """A folder name from lm-eval's output folder (e.g. `__models__tiny`), checked like any name afterwards."""
    import re

    return re.sub(r"[^\w.-]+", "-", text).strip("-_.") or "model"
