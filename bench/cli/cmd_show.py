"""qdbench show RUN_DIR [RUN_DIR...] | qdbench show --list [RUNS_DIR]: a finished run's summary table again,
or one line per run with the settings that tell runs of the same model and task apart."""

from __future__ import annotations

from pathlib import Path

from bench.cli.render import print_run


def add_parser(sub) -> None:
    p = sub.add_parser("show", help="print the summary of finished runs, or list runs with their settings")
    p.add_argument("runs", nargs="*", type=Path, help="run folders (or a runs folder to show all inside); "
                   "default with --list: runs/")
    p.add_argument("--all-metrics", action="store_true",
                   help="also the *_norm / *_sum variants and DiscrimEval's MixedLM fit")
    p.add_argument("--list", action="store_true", help="one line per run: model, task, settings hash, items, "
                   "limit, seed, dtype, data")
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


VARIANT_SUFFIXES = ("_norm", "_sum")  # length-normalized / summed-log-likelihood variants of the headline metrics


def _summary(name: str) -> bool:
    """Shown by default: the headline metrics, not their variants or a second estimator (MixedLM)."""
    return not name.endswith(VARIANT_SUFFIXES) and "_mixedlm" not in name


def show(args) -> int:
    from bench.errors import UserError
    from bench.store.runs import MANIFEST, check_summary_fields, load_run

    if args.list:
        return list_runs(args.runs or [Path("runs")])
    if not args.runs:
        raise UserError("show needs run folders (or --list to list the runs under runs/)")
    for run_dir in find_runs(args.runs):
        manifest, metrics, _ = load_run(run_dir, items=False)
        check_summary_fields(run_dir / MANIFEST, manifest)
        names = [n for n in metrics["metrics"] if not n.endswith(("_lo", "_hi"))]  # shown as intervals
        if not args.all_metrics:
            names = [n for n in names if _summary(n)]
        print_run(manifest, metrics, names)
        print(f"run folder: {run_dir}\n")
    return 0


def list_runs(paths: list[Path]) -> int:
    from rich.table import Table

    from bench.cli.render import console
    from bench.store.runs import load_run

    table = Table(title="qdbench runs", title_justify="left")
    for col in ("run folder", "model", "task", "settings", "items", "limit", "seed", "dtype", "data", "finished"):
        table.add_column(col, overflow="fold")
    for run_dir in find_runs(paths):
        manifest, _, _ = load_run(run_dir, items=False)
        variant, data = manifest.get("variant") or {}, manifest.get("data") or {}
        model = manifest.get("model") or {}
        name = f"{variant['family']}/{variant.get('name')}" if variant.get("family") else str(model.get("spec"))
        table.add_row(str(run_dir), name, manifest["task"]["name"], str(manifest.get("settings_key", "-")),
                      str(data.get("n_items", "")), str(data.get("limit") or "all"), str(manifest.get("seed")),
                      str(model.get("dtype")), str(data.get("origin")),
                      str((manifest.get("timings") or {}).get("finished", "")))
    console.print(table)
    return 0
