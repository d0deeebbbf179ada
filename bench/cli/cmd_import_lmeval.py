"""qdbench import-lmeval SAMPLES_JSONL... --out RUNS [--model NAME]"""

from __future__ import annotations

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
    from bench.cli.checks import out_folder
    from bench.models.lmeval_samples import task_name, to_run

    out_folder(args.out)
    for path in args.samples:
        if not path.is_file():
            raise UserError(f"{path}: no such samples file")
    fields = [f for f in args.fields.split(",") if f] if args.fields else None
    for path in args.samples:
        model = args.model or path.resolve().parent.name
        run = to_run(path, args.out / _slug(model) / _slug(f"lmeval-{task_name(path)}"), model, fields)
        print(f"run folder: {run}")
    return 0


def _slug(text: str) -> str:
    import re

    return re.sub(r"[^\w.-]+", "-", text).strip("-") or "run"
