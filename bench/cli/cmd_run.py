"""qdbench run --model M --tasks T[,T...] --out DIR [--limit N] [--data-dir DIR]   |   qdbench run MATRIX.yaml
|   qdbench run --family configs/families/F.yaml --tasks T

Its flags are defined in bench/cli/options.py, which makes them the fields a matrix file accepts too: add a
flag there and matrices take it.
"""

from __future__ import annotations

from dataclasses import replace

from bench.cli.options import RUN_HELP, add_run_arguments
from bench.cli.render import print_run
from bench.errors import UserError


def add_parser(sub) -> None:
    p = sub.add_parser("run", help=RUN_HELP)
    add_run_arguments(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from bench.cli.checks import out_folder
    from bench.cli.options import run_options
    from bench.exec.family import folder_variant
    from bench.exec.local import evaluate
    from bench.logs import log_to
    from bench.models.device import pick_device
    from bench.models.loading import resolve
    from bench.store.runs import load_run
    from bench.tasks.registry import get_task, get_tasks

    if args.matrix is not None or args.family is not None:
        from bench.cli.matrix import run_matrix_file

        if args.model or (args.matrix is not None and args.family):
            raise UserError("give either a matrix file (with --tasks/--suite to replace its tasks), --family "
                            "with --tasks/--suite, or --model with --tasks/--suite")
        return run_matrix_file(args)
    if args.executor != "local" or args.address:
        raise UserError("--executor ray and --address run matrix files; give a matrix (configs/matrices/*.yaml)")
    if not args.model or not (args.tasks or args.suite) or (args.tasks and args.suite):
        raise UserError("run needs --model and one of --tasks or --suite (or a matrix file: "
                        "qdbench run configs/matrices/X.yaml)")
    if args.data_dir is not None and (args.suite or "," in args.tasks):
        raise UserError("--data-dir applies to one task; run tasks with their own data one at a time")
    from bench.models.engines import check_backend

    check_backend(args.backend)
    if args.tensor_parallel_size <= 0:
        raise UserError(f"--tensor-parallel-size must be positive (got {args.tensor_parallel_size})")
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
    ref = resolve(args.model, args.revision, allow_pickle=args.allow_pickle)
    variant = folder_variant(ref)  # a variant folder given by path is recorded as the variant it is
    if variant is not None:
        per_task = [replace(o, variant=variant) for o in per_task] if isinstance(per_task, list) \
            else replace(per_task, variant=variant)
    for run_dir, task in zip(evaluate(ref, tasks, per_task), tasks, strict=True):
        manifest, metrics, _ = load_run(run_dir, items=False)
        # a generative run's metrics are its generative form's (e.g. dt_stereotype's agreement_index_all_items)
        names = list(metrics["metrics"]) if metrics.get("mode") == "generate" else task.spec.metrics
        print_run(manifest, metrics, names)
        print(f"run folder: {run_dir}")
    return 0

