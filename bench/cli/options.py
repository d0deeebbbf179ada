"""Run options, defined once: the `qdbench run` flags are the definition, and a matrix file accepts every one of
them as a field of the same name (`--batch-tokens` is `batch_tokens:`), validated with the flag's type and
choices. A flag added to `qdbench run` is a matrix field with no other change. Precedence, low to high: the
flag's default, the file, the flags given on the command line.
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


def run_parser() -> argparse.ArgumentParser:
    from bench.cli import cmd_run
    from bench.cli.main import Parser

    sub = Parser(prog="qdbench").add_subparsers(dest="command")
    cmd_run.add_parser(sub)
    return sub.choices["run"]


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
