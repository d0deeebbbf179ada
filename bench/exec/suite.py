"""Suites (`configs/suites/*.yaml`): a set of tasks, each with its own item limit and options, run in one go."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bench.configio import read_mapping, validate
from bench.errors import UserError
from bench.exec.local import RunOptions
from bench.paths import repo_root


class SuiteTask(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int | None = Field(None, gt=0, description="seeded, group-stratified sample of this many items")
    options: dict = Field(default_factory=dict, description="task options, e.g. samples for generation tasks")
    data_dir: Path | None = Field(None, description="a folder of the task's published-format files (relative to "
                                                    "this file), read instead of imported data or the sample")


def anchor_data_dirs(tasks: dict[str, SuiteTask], path: Path, where: str) -> None:
    """Make each entry's `data_dir` relative to the file that names it, and check it is a folder."""
    for name, entry in tasks.items():
        if entry.data_dir is not None:
            entry.data_dir = (path.parent / entry.data_dir.expanduser()).resolve()
            if not entry.data_dir.is_dir():
                raise UserError(f"{where}: field 'tasks.{name}.data_dir': {entry.data_dir} is not a folder")


class Suite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    tasks: dict[str, SuiteTask] = Field(min_length=1)

    @field_validator("tasks", mode="before")
    @classmethod
    def _bare_names(cls, v):
        """`crows_pairs:` with nothing after it means the task with its defaults."""
        return {k: x if x is not None else {} for k, x in v.items()} if isinstance(v, dict) else v


def load_suite(name_or_path: str) -> Suite:
    path = Path(name_or_path)
    if not path.suffix:
        path = repo_root() / "configs" / "suites" / f"{name_or_path}.yaml"
    raw = read_mapping(path, "suite")
    raw.setdefault("name", path.stem)
    suite = validate(Suite, raw, f"suite file {path}")
    anchor_data_dirs(suite.tasks, path, f"suite file {path}")
    return suite


def suite_runs(suite: Suite, opts: RunOptions) -> list[tuple[str, RunOptions]]:
    """(task name, options) per task: the command line's --limit and options win over the suite's."""
    from bench.tasks.registry import get_task

    out = []
    for name, entry in suite.tasks.items():
        get_task(name)
        options = {**entry.options, **{k: v for k, v in opts.task_options.items() if v is not None}}
        out.append((name, replace(opts, limit=opts.limit or entry.limit, task_options=options,
                                  data_dir=opts.data_dir or entry.data_dir)))
    return out
