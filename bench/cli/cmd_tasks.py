"""qdbench tasks list | qdbench tasks validate FILE [FILE...] | qdbench tasks export --lm-eval DIR"""

from __future__ import annotations

import sys
from pathlib import Path

from bench.errors import UserError


def add_parser(sub) -> None:
    p = sub.add_parser("tasks", help="list the tasks and their metrics, check a task file, or export for lm-eval")
    p.add_argument("action", choices=["list", "validate", "export"])
    p.add_argument("files", nargs="*", type=Path, help="validate: task YAML files")
    add_export_arguments(p)
    p.set_defaults(func=tasks)


def add_export_arguments(p) -> None:
    p.add_argument("--lm-eval", type=Path, help="export: write lm-eval task folders here")
    p.add_argument("--tasks", help="export: comma-separated task names (default: every exportable task)")
    p.add_argument("--limit", type=int, help="export: a seeded, group-stratified sample of N items per task")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--sample-data", action="store_true", help="export: the shipped samples, not imported data")


def tasks(args) -> int:
    if args.action == "export":
        return export_lmeval(args)
    if args.action == "validate":
        if not args.files:
            raise UserError("tasks validate needs one or more task YAML files")
        return max(validate_file(f) for f in args.files)
    from rich.table import Table

    from bench.cli.render import console
    from bench.tasks.registry import list_tasks

    table = Table(title="qdbench tasks", title_justify="left")
    for col in ("task", "description", "metrics", "groups", "data"):
        table.add_column(col)
    for t in list_tasks():
        table.add_row(t.name, t.spec.description, ", ".join(t.spec.metrics), ", ".join(t.spec.group_by),
                      t.spec.data.format)
    console.print(table)
    return 0


def export_lmeval(args) -> int:
    """`qdbench tasks export --lm-eval DIR`: lm-eval task folders over this machine's data (imported, else
    the shipped samples). Every task is rendered before the first folder is written; a task named in --tasks
    that cannot be exported is an error, one found by exporting them all is skipped with a note."""
    from bench.cli.checks import out_folder
    from bench.data import store
    from bench.data.sampling import stratified_sample
    from bench.tasks.lmeval_export import export, exportable_rows
    from bench.tasks.registry import get_tasks, list_tasks

    if args.lm_eval is None:
        raise UserError("tasks export needs --lm-eval DIR (the folder for lm-eval's task YAML)")
    if args.limit is not None and args.limit <= 0:
        raise UserError(f"--limit must be a positive number of items (got {args.limit})")
    out_folder(args.lm_eval, "--lm-eval")
    named = args.tasks is not None
    ready = []
    for task in get_tasks(args.tasks) if named else list_tasks():
        try:
            data = store.load(task.spec, None, sample=args.sample_data)
        except UserError as e:
            if named:
                raise
            print(f"skipped {task.name}: {e}", file=sys.stderr)
            continue
        keep = stratified_sample(data.docs, args.limit, task.spec.stratify_by or task.spec.group_by, args.seed)
        rows = exportable_rows(task, [data.docs[i] for i in keep])
        if isinstance(rows, str):
            if named:
                raise UserError(f"task '{task.name}' cannot be exported for lm-eval: {rows}")
            print(f"skipped {task.name}: {rows}", file=sys.stderr)
            continue
        ready.append((task, rows, {"data": data.provenance(), "limit": args.limit, "seed": args.seed}))
    if not ready:
        raise UserError("no task could be exported for lm-eval (see the notes above)")
    for task, rows, provenance in ready:
        folder = export(task, rows, args.lm_eval, provenance)
        print(f"{folder}  (lm-eval --include_path {args.lm_eval} --tasks qdbench_{task.name})")
    return 0


def problems(path: Path) -> tuple[list[str], str]:
    """Everything wrong with one task file, checked as a run would use it: the schema, the hook and format
    modules, the data, and the first items rendered into requests and rows. Returns (problems, summary)."""
    from bench.data import store as data_store
    from bench.tasks.dryrun import check_task
    from bench.tasks.registry import load_task

    try:
        task = load_task(path)
    except UserError as e:
        return [str(e)], ""
    found = []
    if not task.declared_metrics and task.hook.compute is None:
        found.append(f"field 'scorer': module '{task.spec.scorer}' declares no METRICS (bench/metrics/declare.py) "
                     "and has no compute(records) function")
    try:
        dataset = data_store.load(task.spec)
    except UserError as e:
        return [*found, str(e)], ""
    docs = dataset.docs
    try:
        check_task(task, docs)  # the dry run a run starts with
    except UserError as e:
        return [*found, str(e)], ""
    ids = []
    for n, doc in enumerate(docs, 1):
        where = f"item {n} of {dataset.path}"
        try:
            ids.append(task.item_id(doc))
            if n <= 20:  # rendering every item would be a run; the first ones catch a template's mistakes
                task.requests(doc)
                if task.spec.request == "multiple_choice" and task.spec.prompt.gold is not None:
                    int(doc[task.spec.prompt.gold])
        except Exception as e:  # a template error names the missing field; report it, do not crash
            found.append(f"{where}: {type(e).__name__}: {e}")
            if len(found) > 10:
                break
            continue
        missing = [f for f in {*task.spec.fields, *task.spec.group_by} if f not in doc]
        if missing and n <= 20:
            found.append(f"{where}: no field(s) {', '.join(sorted(missing))} (named in fields/group_by)")
    dup = {i for i in ids if ids.count(i) > 1} if len(ids) < 5000 else set()
    if len(set(ids)) != len(ids):
        found.append(f"field 'item_id': ids are not unique ({len(ids) - len(set(ids))} repeats"
                     + (f", e.g. {sorted(dup)[0]!r})" if dup else ")"))
    summary = (f"task '{task.name}': {len(docs)} items from {dataset.origin} data ({dataset.path}), request "
               f"{task.spec.request}, metrics {', '.join(task.spec.metrics)}")
    return found, summary


def validate_file(path: Path) -> int:
    found, summary = problems(path)
    if found:
        for p in found:
            print(f"qdbench: error: {path}: {p}", file=sys.stderr)
        return 2
    print(f"{path}: ok: {summary}")
    return 0
