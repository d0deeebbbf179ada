"""qdbench run --model M --tasks T[,T...] --out DIR [--limit N] [--data-dir DIR]   |   qdbench run MATRIX.yaml
|   qdbench run --family configs/families/F.yaml --tasks T

The flags below are also the fields a matrix file accepts (bench/cli/options.py): add a flag here and
matrices take it too.
"""

from __future__ import annotations

from pathlib import Path

from bench.cli.render import print_run
from bench.errors import UserError


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="evaluate a model on tasks (resumable)")
    p.add_argument("matrix", nargs="?", type=Path, help="a matrix file (configs/matrices/*.yaml) instead of "
                   "--model/--tasks: base models, their variants and tasks; it may set any option below by its "
                   "name (e.g. batch_tokens:), and options given here win over the file")
    p.add_argument("--model", help="builtin:NAME, a local model folder, or a hub id")
    p.add_argument("--revision", help="hub revision (branch, tag or commit)")
    p.add_argument("--tasks", help="comma-separated task names (see `qdbench tasks list`)")
    p.add_argument("--suite", help="a suite of tasks with their limits: a name in configs/suites/ or a YAML path")
    p.add_argument("--family", type=Path, help="a published family (configs/families/*.yaml): the teacher and "
                   "its published students, evaluated on the same items")
    p.add_argument("--out", type=Path, default=Path("runs"), help="runs folder (default: runs/)")
    p.add_argument("--limit", type=int, help="evaluate a seeded, group-stratified sample of N items")
    p.add_argument("--data-dir", type=Path, help="read the task's published files from this folder")
    p.add_argument("--sample-data", action="store_true",
                   help="use the tasks' shipped samples even where published data was imported")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--dtype", default="auto", help="auto (fp32 on CPU, bf16 on CUDA), float32, bfloat16, float16")
    p.add_argument("--batch-tokens", type=int, default=16384, help="tokens per forward batch")
    p.add_argument("--chunk-items", type=int, default=64, help="items per atomic write (the resume granularity)")
    p.add_argument("--trust-remote-code", action="store_true", help="allow the model's own Python code")
    p.add_argument("--samples", type=int, help="generation tasks: samples per prompt (overrides the task's)")
    p.add_argument("--classifier", help="toxicity classifier: detoxify:original, detoxify:unbiased, hf:NAME_OR_PATH "
                                        "builtin:profanity-check (offline offensive-language classifier, not Detoxify) "
                                        "or builtin:tiny-detoxify (random, for tests)")
    p.add_argument("--classifier-path", type=Path, help="local Detoxify checkpoint folder or HF classifier folder")
    p.add_argument("--classifier-label", help="the classifier's toxic label (default: toxicity / toxic)")
    p.add_argument("--quiet", action="store_true", help="print only the final table and errors (no progress, "
                                                        "no notes); library messages always go to OUT/qdbench.log")
    p.set_defaults(func=run)


def run(args) -> int:
    from bench.cli.checks import out_folder
    from bench.cli.options import run_options
    from bench.exec.local import evaluate
    from bench.logs import log_to
    from bench.models.hf import pick_device
    from bench.models.loading import resolve
    from bench.store.runs import load_run
    from bench.tasks.registry import get_task, get_tasks

    if args.matrix is not None or args.family is not None:
        from bench.cli.matrix import run_matrix_file

        if args.model or (args.matrix is not None and (args.tasks or args.suite or args.family)):
            raise UserError("give either a matrix file, --family with --tasks/--suite, or --model with "
                            "--tasks/--suite")
        return run_matrix_file(args)
    if not args.model or not (args.tasks or args.suite) or (args.tasks and args.suite):
        raise UserError("run needs --model and one of --tasks or --suite (or a matrix file: "
                        "qdbench run configs/matrices/X.yaml)")
    if args.data_dir is not None and (args.suite or "," in args.tasks):
        raise UserError("--data-dir applies to one task; run tasks with their own data one at a time")
    opts = run_options(vars(args))
    out_folder(args.out)
    log_to(args.out / "qdbench.log")
    pick_device(args.device)
    if args.suite:
        from bench.exec.suite import load_suite, suite_runs

        runs = suite_runs(load_suite(args.suite), opts)
        tasks, per_task = [get_task(name) for name, _ in runs], [o for _, o in runs]
    else:
        tasks, per_task = get_tasks(args.tasks), opts
    ref = resolve(args.model, args.revision)
    for run_dir, task in zip(evaluate(ref, tasks, per_task), tasks, strict=True):
        manifest, metrics, _ = load_run(run_dir, items=False)
        print_run(manifest, metrics, task.spec.metrics)
        print(f"run folder: {run_dir}")
    return 0
