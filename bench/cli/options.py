"""Run options, defined once: the `qdbench run` flags defined here are the definition (cmd_run.py adds them to
its parser), and a matrix file accepts every one of them as a field of the same name (`--batch-tokens` is
`batch_tokens:`), validated with the flag's type and choices. A flag added here is a matrix field with no other
change. Precedence, low to high: the flag's default, the file, the flags given on the command line.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any, Literal

from bench.errors import UserError

# Flags that choose what to run rather than how: not matrix fields (a matrix says what to run itself).
NOT_OPTIONS = {"matrix", "model", "revision", "tasks", "suite", "out", "data_dir", "family", "include_path",
               "help", "func", "command", "argv",
               # where a run executes and whether a model may be unpickled: never part of a run's settings
               "executor", "address", "retries", "job_cpus", "job_gpus", "job_memory", "allow_pickle"}
POSITIVE = ("limit", "batch_tokens", "chunk_items", "samples")
RUN_HELP = "evaluate a model on tasks (resumable)"


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """Every `qdbench run` flag: the one definition of the run options (and of the matrix fields)."""
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


def run_parser() -> argparse.ArgumentParser:
    from bench.cli.main import Parser

    sub = Parser(prog="qdbench").add_subparsers(dest="command")
    p = sub.add_parser("run", help=RUN_HELP)
    add_run_arguments(p)
    return p


def option_actions() -> dict[str, argparse.Action]:
    return {a.dest: a for a in run_parser()._actions if a.dest not in NOT_OPTIONS and a.option_strings}


def defaults() -> dict[str, Any]:
    return {dest: a.default for dest, a in option_actions().items()}


def given(argv: list[str] | None) -> dict[str, Any]:
    """The run options typed on the command line (not their defaults), from `qdbench run ...` argv."""
    if not argv or "run" not in argv:
        return {}
    parser = run_parser()
    for action in parser._actions:
        action.default = argparse.SUPPRESS
    ns, _ = parser.parse_known_args(argv[argv.index("run") + 1:])
    return {k: v for k, v in vars(ns).items() if k not in NOT_OPTIONS}


def options_model():
    """A pydantic model of every run option, from the flags' types and choices (`None`: not set)."""
    from pydantic import ConfigDict, create_model

    fields = {}
    for dest, a in option_actions().items():
        if isinstance(a, (argparse._StoreTrueAction, argparse._StoreFalseAction, argparse.BooleanOptionalAction)):
            kind: Any = bool
        elif a.choices:
            kind = Literal[tuple(a.choices)]
        elif a.type in (int, float):
            kind = a.type
        else:
            kind = str
        fields[dest] = (kind | None, None)
    return create_model("RunSettings", __config__=ConfigDict(extra="forbid"), **fields)


def file_options(raw: dict, where: str) -> dict[str, Any]:
    """The run options a matrix file sets, validated against the flags' definition."""
    from bench.configio import validate

    actions = option_actions()
    values = validate(options_model(), raw, where).model_dump(exclude_none=True)
    for flag in POSITIVE:
        if values.get(flag) is not None and values[flag] <= 0:
            raise UserError(f"{where}: field '{flag}' must be positive (got {values[flag]})")
    return {k: actions[k].type(v) if actions[k].type is Path else v for k, v in values.items()}


def run_options(values: dict[str, Any]):
    """RunOptions from option values: RunOptions fields by name, every other option a task option (e.g. the
    toxicity classifier), paths resolved so the run records where they point."""
    from bench.exec.local import RunOptions

    for flag in POSITIVE:
        if values.get(flag) is not None and values[flag] <= 0:
            raise UserError(f"--{flag.replace('_', '-')} must be positive (got {values[flag]})")
    names = {f.name for f in dataclasses.fields(RunOptions)}
    kw: dict[str, Any] = {}
    task_options: dict[str, Any] = {}
    for k, v in values.items():
        if k in NOT_OPTIONS - {"out", "data_dir", "revision"}:
            continue
        if k in names:
            if v is not None:
                kw[k] = v
        else:
            task_options[k] = str(Path(v).expanduser().resolve()) if isinstance(v, Path) else v
    if values.get("argv") is not None:  # recorded as typed, also where another process (a Ray worker) runs it
        kw["command_line"] = ["qdbench", *values["argv"]]
    return RunOptions(**kw, task_options=task_options)
