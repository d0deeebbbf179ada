"""qdbench run --model M --tasks T[,T...] --out DIR [--limit N] [--data-dir DIR]   |   qdbench run MATRIX.yaml
|   qdbench run --family configs/families/F.yaml --tasks T

The flags below are also the fields a matrix file accepts (bench/cli/options.py): add a flag here and
matrices take it too.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
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
    p.add_argument("--backend", default="hf", help="hf (default), vllm (make vllm-env, or vLLM installed), vllm+hf "
                   "(vLLM generates, the packed HF scorer scores), or lm-eval:NAME (e.g. lm-eval:hf)")
    p.add_argument("--tensor-parallel-size", type=int, default=1, help="vLLM: GPUs to split the model over")
    p.add_argument("--batch-size", type=_batch_size, help="rows per forward batch, or 'auto': probe the largest that "
                   "fits and back off on out-of-memory without losing work")
    p.add_argument("--device-map", choices=["auto"], help="auto: spread the model over every device (HF backend)")
    p.add_argument("--no-request-cache", dest="request_cache", action="store_false",
                   help="do not reuse or store answers in the request cache ($QDBENCH_HOME/request-cache)")
    p.add_argument("--chunk-items", type=int, default=64, help="items per atomic write (the resume granularity)")
    p.add_argument("--trust-remote-code", action="store_true", help="allow the model's own Python code")
    p.add_argument("--allow-pickle", action="store_true",
                   help="load a model folder that has only pickle weights (*.bin); warns: unpickling can run code")
    p.add_argument("--samples", type=int, help="generation tasks: samples per prompt (overrides the task's)")
    p.add_argument("--classifier", help="toxicity classifier: detoxify:original, detoxify:unbiased, hf:NAME_OR_PATH "
                                        "builtin:profanity-check (offline offensive-language classifier, not Detoxify) "
                                        "or builtin:tiny-detoxify (random, for tests)")
    p.add_argument("--classifier-path", type=Path, help="local Detoxify checkpoint folder or HF classifier folder")
    p.add_argument("--classifier-label", help="the classifier's toxic label (default: toxicity / toxic)")
    p.add_argument("--regard-classifier", help="bold: a regard classifier, hf:PATH (labels negative, neutral, "
                                               "positive, other); without one the regard metrics are skipped")
    p.add_argument("--mode", choices=("loglikelihood", "generate"), default="loglikelihood",
                   help="multiple-choice tasks: score options by log-likelihood (default) or generate an answer "
                        "letter")
    p.add_argument("--chat-template", default="auto", help="generate mode: auto (the model's, if it has one), "
                   "none (plain prompt) or a file holding a Jinja chat template")
    p.add_argument("--system-prompt", help="generate mode: a system message")
    p.add_argument("--max-new-tokens", type=int, help="generate mode: answer token budget (default 32)")
    p.add_argument("--max-think-tokens", type=int, help="generate mode: reasoning token budget; a think block "
                   "still open then is closed and the answer gets --max-new-tokens")
    p.add_argument("--enable-thinking", action=argparse.BooleanOptionalAction, default=None,
                   help="generate mode: pass enable_thinking to templates that take it (Qwen3)")
    p.add_argument("--num-fewshot", type=int, default=0,
                   help="few-shot examples per item, drawn seeded from a held-out split (both modes)")
    p.add_argument("--quiet", action="store_true", help="print only the final table and errors (no progress, "
                                                        "no notes); library messages always go to OUT/qdbench.log")
    add_executor_flags(p)
    p.set_defaults(func=run)


def _batch_size(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive number of rows or 'auto'")
    return value
def add_executor_flags(p) -> None:
    g = p.add_argument_group("executor (matrix files)")
    g.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local (default): one job after another here; ray: jobs on a Ray cluster")
    g.add_argument("--address", help="Ray cluster address (default: start a local one; `auto`: the running one)")
    g.add_argument("--retries", type=int, default=2, help="ray: retries of a failed or killed job (default 2)")
    g.add_argument("--job-cpus", type=float, default=1.0, help="ray: CPUs per job (default 1)")
    g.add_argument("--job-gpus", type=float, help="ray: GPUs per job (default 1 where the cluster has GPUs)")
    g.add_argument("--job-memory", type=float, help="ray: memory per job in GiB (default: no reservation)")


def run(args) -> int:
    from bench.cli.checks import out_folder
    from bench.cli.options import run_options
    from bench.exec.family import folder_variant
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

