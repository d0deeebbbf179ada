"""The task registry: every `tasks/*.yaml` becomes a Task, with its Python hooks in `bench.tasks.<scorer>`.

Tasks outside the package come from include folders: `--include-path DIR` (any command), then
$QDBENCH_INCLUDE_PATH and $QDBENCH_TASKS (os.pathsep-separated folders), then the repository's `tasks/`. A
task name means one task file: two files of the same name (an include folder's `bbq` and the built-in one) are
an error, never one silently replacing the other, since runs, comparisons and the leaderboard know a task by its
name. An include folder may also hold the hook and
data-format modules its task files name (`scorer: my_hooks` is `DIR/my_hooks.py`), used where bench/ has no
module of that name.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from bench import modules
from bench.errors import UserError
from bench.modules import named_module, set_include_dirs
from bench.paths import repo_root
from bench.tasks.base import Task
from bench.tasks.spec import load_spec

ENV_VARS = ("QDBENCH_INCLUDE_PATH", "QDBENCH_TASKS")


def include_dirs() -> list[Path]:
    env = [Path(p).expanduser() for var in ENV_VARS for p in os.environ.get(var, "").split(os.pathsep) if p]
    for d in env:
        if not d.is_dir():
            raise UserError(f"$QDBENCH_INCLUDE_PATH / $QDBENCH_TASKS: {d} is not a folder (expected folders of "
                            f"task YAML files, separated by '{os.pathsep}')")
    return [*modules.command_line_dirs, *env]


def task_dirs() -> list[Path]:
    return [*include_dirs(), repo_root() / "tasks"]


def load_task(path: Path) -> Task:
    """One task file, its hooks looked up in bench.tasks and then in the include folders and its own folder."""
    spec = load_spec(path)
    set_include_dirs([*include_dirs(), Path(path).resolve().parent])
    if spec.data.path is not None and not Path(spec.data.path).is_absolute():
        spec = spec.model_copy(update={"data": spec.data.model_copy(
            update={"path": str((Path(path).resolve().parent / spec.data.path).resolve())})})
    hooks = named_module("bench.tasks", spec.scorer, f"task file {path}: field 'scorer'")
    return Task(spec, hooks, Path(path))


def _all() -> dict[str, Task]:
    return _tasks_in(tuple(task_dirs()))


@functools.cache
def _tasks_in(folders: tuple[Path, ...]) -> dict[str, Task]:
    tasks: dict[str, Task] = {}
    for folder in folders:
        for path in sorted(Path(folder).glob("*.yaml")):
            spec = load_spec(path)
            if spec.name not in tasks:
                tasks[spec.name] = load_task(path)
            elif tasks[spec.name].path.resolve() != path.resolve():
                raise UserError(f"task '{spec.name}' is defined twice, by {tasks[spec.name].path} and by {path}; "
                                "a task file cannot replace another of the same name (rename one of them)")
    set_include_dirs([*include_dirs(), *{t.path.resolve().parent for t in tasks.values()}])
    return tasks


def list_tasks() -> list[Task]:
    return list(_all().values())


def get_task(name: str) -> Task:
    tasks = _all()
    if name not in tasks:
        raise UserError(f"unknown task '{name}'; available: {', '.join(sorted(tasks)) or '(none)'}")
    return tasks[name]


def get_tasks(names: str) -> list[Task]:
    """Comma-separated task names, e.g. 'bbq,stereoset'."""
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    if not wanted:
        raise UserError("--tasks: expected one or more task names separated by commas")
    return [get_task(n) for n in wanted]
