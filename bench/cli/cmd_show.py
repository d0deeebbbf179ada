"""qdbench show RUN_DIR [RUN_DIR...] | qdbench show --list [RUNS_DIR]: a finished run's summary table again,
or one line per run with the settings that tell runs of the same model and task apart."""

from __future__ import annotations

from pathlib import Path

from bench.cli.render import print_run


def add_parser(sub) -> None:
    p = sub.add_parser("show", help="print the summary of finished runs, or list runs with their settings")
    p.add_argument("runs", nargs="*", type=Path, help="run folders (or a runs folder to show all inside), or a "
                   "distilled student's folder (its proof of distillation); default with --list: runs/")
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
    students = [p for p in args.runs if _student_record(p) is not None]
    for folder in students:
        show_student(folder, _student_record(folder))
    runs = [p for p in args.runs if p not in students]
    for run_dir in find_runs(runs) if runs else []:
        manifest, metrics, _ = load_run(run_dir, items=False)
        check_summary_fields(run_dir / MANIFEST, manifest)
        names = [n for n in metrics["metrics"] if not n.endswith(("_lo", "_hi"))]  # shown as intervals
        if not args.all_metrics:
            names = [n for n in names if _summary(n)]
        print_run(manifest, metrics, names)
        model_path = (manifest.get("model") or {}).get("path")
        record = _student_record(Path(model_path)) if model_path else None
        if record is not None:
            from bench.compress.distill.proof import lines, report

            for line in lines(report(record)):
                print(line)
        print(f"run folder: {run_dir}\n")
    return 0


def _student_record(folder: Path) -> dict | None:
    """The provenance of a student qdbench distilled (with its proof), else None."""
    from bench.compress.distill.proof import read_provenance

    record = read_provenance(folder) if folder.is_dir() else None
    return record if record and record.get("kind") in ("distilled", "nds") and "proof" in record else None


def show_student(folder: Path, record: dict) -> None:
    from bench.compress.distill.proof import lines, report

    what = "non-distilled control" if record["kind"] == "nds" else f"distilled student (T={record['temperature']})"
    print(f"{what}: {folder}")
    print(f"teacher: {(record.get('base') or {}).get('spec')}, {record.get('student_parameters', 0) / 1e6:.2f}M "
          f"parameters, {record.get('steps')} steps, corpus sha256 {record['corpus']['sha256'][:16]}")
    if record.get("tokens_per_s"):
        print(f"training: {record['train_s']:.1f} s, {record['tokens_per_s']:.0f} tokens/s, peak memory "
              f"{record['peak_rss_mb']:.0f} MB")
    for line in lines(report(record)):
        print(line)
    print()


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
