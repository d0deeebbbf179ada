"""qdbench show RUN_DIR [RUN_DIR...]: print a finished run's summary table again."""

from __future__ import annotations

from pathlib import Path

from bench.cli.render import print_run


def add_parser(sub) -> None:
    p = sub.add_parser("show", help="print the summary of finished runs")
    p.add_argument("runs", nargs="+", type=Path, help="run folders (or a runs folder to show all inside)")
    p.add_argument("--all-metrics", action="store_true",
                   help="every metric (default: the task's summary metrics; length-normalized and other variants "
                        "only with this)")
    p.set_defaults(func=show)


def find_runs(paths: list[Path]) -> list[Path]:
    from bench.errors import UserError
    from bench.store.runs import MANIFEST

    out = []
    for path in paths:
        if not path.exists():
            raise UserError(f"{path}: no such run folder")
        if (path / MANIFEST).is_file() or (path / ".work").is_dir():
            out.append(path)
        else:
            found = sorted(p.parent for p in path.rglob(MANIFEST))
            if not found:
                raise UserError(f"{path}: no finished qdbench runs inside")
            out.extend(found)
    return out


def _summary_metrics(task: str) -> list[str]:
    """The task YAML's `metrics:` list (its summary columns); empty where the task is not known here."""
    from bench.errors import UserError
    from bench.tasks.registry import get_task

    try:
        return list(get_task(task).spec.metrics)
    except UserError:
        return []


def show(args) -> int:
    from bench.store.runs import load_run

    for run_dir in find_runs(args.runs):
        manifest, metrics, _ = load_run(run_dir)
        names = [n for n in metrics["metrics"] if not n.endswith(("_lo", "_hi"))]  # shown as intervals
        if not args.all_metrics:
            summary = _summary_metrics(manifest["task"]["name"])
            names = [n for n in names if n in summary] if summary else [n for n in names if not n.endswith("_norm")]
        print_run(manifest, metrics, names)
        print(f"run folder: {run_dir}\n")
    return 0
