"""qdbench tasks list | qdbench tasks export --lm-eval DIR"""

from __future__ import annotations

from pathlib import Path

from bench.errors import UserError


def add_parser(sub) -> None:
    p = sub.add_parser("tasks", help="list the tasks and their metrics, or export them for lm-eval")
    p.add_argument("action", choices=["list", "export"])
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
    the shipped samples)."""
    from bench.cli.checks import out_folder
    from bench.data import store
    from bench.data.sampling import stratified_sample
    from bench.models.lmeval_export import export
    from bench.tasks.registry import get_tasks, list_tasks

    if args.lm_eval is None:
        raise UserError("tasks export needs --lm-eval DIR (the folder for lm-eval's task YAML)")
    out_folder(args.lm_eval, "--lm-eval")
    tasks = get_tasks(args.tasks) if args.tasks else list_tasks()
    written = 0
    for task in tasks:
        try:
            data = store.load(task.spec, None, sample=args.sample_data)
        except UserError as e:
            print(f"skipped {task.name}: {e}")
            continue
        keep = stratified_sample(data.docs, args.limit, task.spec.stratify_by or task.spec.group_by, args.seed)
        result = export(task, [data.docs[i] for i in keep], args.lm_eval,
                        {"data": data.provenance(), "limit": args.limit, "seed": args.seed})
        if isinstance(result, str):
            print(f"skipped {task.name}: {result}")
        else:
            written += 1
            print(f"{result}  (lm-eval --include_path {args.lm_eval} --tasks qdbench_{task.name})")
    return 0 if written else 2
