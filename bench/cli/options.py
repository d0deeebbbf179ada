"""Run options as flags and matrix fields, from the one table (bench/exec/options_table.py): `qdbench run`'s
flags are its rows (cmd_run.py adds them to its parser), and a matrix file accepts every run and task option as a
field of the same name (`--batch-tokens` is `batch_tokens:`), validated with the row's type and choices. A row
added there is a flag and a matrix field with no other change. Precedence, low to high: the row's default, the
file, the flags given on the command line.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Literal

from bench.errors import UserError
from bench.exec.options_table import MATRIX_FIELDS, OPTIONS, POSITIVE, Option

# What is no matrix field: the table's select, where and machine options, and what argparse itself adds.
NOT_OPTIONS = {o.name for o in OPTIONS if o.target in ("select", "where", "machine")} | {
    "include_path", "help", "func", "command", "argv"}
RUN_HELP = "evaluate a model on tasks (resumable)"
_ACTIONS = {"store_true": "store_true", "store_false": "store_false",
            "optional_bool": argparse.BooleanOptionalAction}


def add_run_arguments(p: argparse.ArgumentParser, defaults: bool = True) -> None:
    """Every `qdbench run` flag, one per row of the table; `defaults` False leaves an option not given out of
    the parsed namespace (how `given` tells a typed option from a default)."""
    groups: dict[str, Any] = {}
    for o in OPTIONS:
        if o.target == "internal":
            continue
        where = p if o.group is None else groups.setdefault(o.group, p.add_argument_group(o.group))
        where.add_argument(*_names(o), **_argument(o, defaults))


def _names(o: Option) -> list[str]:
    return [o.name] if o.flag == o.name else o.flags  # a positional argument is named by itself


def _argument(o: Option, defaults: bool) -> dict[str, Any]:
    kw: dict[str, Any] = {"help": o.help, "default": o.default if defaults else argparse.SUPPRESS}
    if o.flag == o.name:
        kw["nargs"] = "?"
    elif o.flags[0] != "--" + o.name.replace("_", "-"):  # --no-request-cache sets request_cache
        kw["dest"] = o.name
    if o.action != "store":
        kw["action"] = _ACTIONS[o.action]
    else:
        if o.type is not str:
            kw["type"] = o.type
        if o.choices:
            kw["choices"] = list(o.choices)
    return kw


def run_parser() -> argparse.ArgumentParser:
    from bench.cli.main import Parser

    sub = Parser(prog="qdbench").add_subparsers(dest="command")
    p = sub.add_parser("run", help=RUN_HELP)
    add_run_arguments(p)
    return p


def defaults() -> dict[str, Any]:
    """Every matrix field's default value."""
    return {o.name: o.default for o in MATRIX_FIELDS}


def given(argv: list[str] | None) -> dict[str, Any]:
    """The run options typed on the command line (not their defaults), from `qdbench run ...` argv."""
    if not argv or "run" not in argv:
        return {}
    from bench.cli.main import Parser

    parser = Parser(prog="qdbench run")
    add_run_arguments(parser, defaults=False)
    ns, _ = parser.parse_known_args(argv[argv.index("run") + 1:])
    return {k: v for k, v in vars(ns).items() if k not in NOT_OPTIONS}


def options_model():
    """A pydantic model of every matrix field, from the rows' types and choices (`None`: not set)."""
    from pydantic import ConfigDict, create_model

    fields = {}
    for o in MATRIX_FIELDS:
        if o.action != "store":
            kind: Any = bool
        elif o.choices:
            kind = Literal[o.choices]
        elif o.type in (int, float):
            kind = o.type
        else:
            kind = str
        fields[o.name] = (kind | None, None)
    return create_model("RunSettings", __config__=ConfigDict(extra="forbid"), **fields)


def file_options(raw: dict, where: str) -> dict[str, Any]:
    """The run options a matrix file sets, validated against the flags' definition."""
    from bench.configio import validate

    types = {o.name: o.type for o in MATRIX_FIELDS}
    values = validate(options_model(), raw, where).model_dump(exclude_none=True)
    for flag in POSITIVE:
        if values.get(flag) is not None and values[flag] <= 0:
            raise UserError(f"{where}: field '{flag}' must be positive (got {values[flag]})")
    return {k: Path(v) if types[k] is Path else v for k, v in values.items()}


def run_options(values: dict[str, Any]):
    """RunOptions from option values: RunOptions fields by name, every other option a task option (e.g. the
    toxicity classifier), paths resolved so the run records where they point."""
    from bench.exec.options_table import FIELDS, RunOptions

    FIELD_NAMES = {o.name for o in FIELDS}  # noqa: N806

    for flag in POSITIVE:
        if values.get(flag) is not None and values[flag] <= 0:
            raise UserError(f"--{flag.replace('_', '-')} must be positive (got {values[flag]})")
    kw: dict[str, Any] = {}
    task_options: dict[str, Any] = {}
    for k, v in values.items():
        if k in NOT_OPTIONS - {"out", "data_dir", "revision"}:
            continue
        if k in FIELD_NAMES:
            if v is not None:
                kw[k] = v
        else:
            task_options[k] = str(Path(v).expanduser().resolve()) if isinstance(v, Path) else v
    if values.get("argv") is not None:  # recorded as typed, also where another process (a Ray worker) runs it
        kw["command_line"] = ["qdbench", *values["argv"]]
    return RunOptions(**kw, task_options=task_options)
