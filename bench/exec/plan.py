"""Matrices (`configs/matrices/*.yaml`): base models × their variants × tasks, turned into a list of runs.

Every run of a family shares the task list, item sample, seed and settings, so base and variants are
evaluated on identical items and can be compared item by item. A family is a base with recipes and
distilled students, or a published family (`published: configs/families/X.yaml`): a teacher and the
students published from it, each loaded with its own tokenizer; their items are the same (the sample
depends on the data, the limit and the seed only), so they pair wherever the data is shared.

Any other top-level field is a run option (the `qdbench run` flags; see bench/cli/options.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bench.compress.distill import DistillConfig, parse_config
from bench.compress.recipes import Calibration, Recipe, load_recipe
from bench.configio import read_mapping, validate
from bench.errors import UserError
from bench.exec.suite import SuiteTask, anchor_data_dirs, load_suite
from bench.paths import repo_root

NAME = r"^[A-Za-z0-9][\w.-]*$"


class DistilledVariant(BaseModel):
    """A student distilled from the family's base (the teacher): `distill` holds DistillConfig fields; with
    `quantize`, that student is then quantized by the recipe named (distil, then quantize)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=NAME)
    distill: dict
    quantize: str | None = Field(None, description="a recipe name or YAML path applied to the built student")


class Family(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base: str | None = Field(None, description="builtin:NAME, a local folder or a hub id")
    run: dict = Field(default_factory=dict, description="run options for this family's base and variants only "
                      "(e.g. a reasoning model with thinking on and off as two families), over the matrix-wide ones")
    revision: str | None = None
    published: str | None = Field(None, description="a published family: a file in configs/families/ (by "
                                                     "name or path); its teacher is the base")
    name: str | None = Field(None, pattern=NAME, description="family name; default from base")
    variants: list[str | DistilledVariant] = Field(
        default_factory=list, description="recipe names or YAML paths, or {name, distill: {...}} students")

    @field_validator("variants")
    @classmethod
    def _unique(cls, v: list) -> list:
        names = [variant_name(x) for x in v]
        if len(set(names)) != len(names):
            raise ValueError("variants are listed more than once")
        return v

    @model_validator(mode="after")
    def _one_base(self) -> Family:
        if (self.base is None) == (self.published is None):
            raise ValueError("give either `base` (a model) or `published` (a configs/families file)")
        if self.published is not None and self.revision is not None:
            raise ValueError("field 'revision': a published family pins its own revisions")
        return self

    def family_name(self) -> str:
        return self.name or default_family_name(self.base or "")


def variant_name(v: str | DistilledVariant) -> str:
    """A matrix variant's name as the matrix writes it: the recipe name (or path), or the student's `name`."""
    return v if isinstance(v, str) else v.name


def default_family_name(base: str) -> str:
    """The family a base model names when nobody names it: its built-in name or its folder's / hub id's last
    part (`builtin:tiny-llama` -> tiny-llama)."""
    return re.sub(r"[^\w.-]+", "-", base.removeprefix("builtin:").rstrip("/").split("/")[-1]).strip("-") or "model"


class Matrix(BaseModel):
    model_config = ConfigDict(extra="allow")  # run options, validated against the `qdbench run` flags
    name: str
    description: str = ""
    families: list[Family] = Field(min_length=1)
    tasks: dict[str, SuiteTask] = Field(default_factory=dict, description="task names, or name: {limit, options}")
    suite: str | None = Field(None, description="a suite (configs/suites/ name or path): its tasks and limits")
    calibration: Calibration | None = Field(None, description="calibration data for every calibrated recipe of "
                                                              "the matrix, replacing the recipes' own")

    @field_validator("tasks", mode="before")
    @classmethod
    def _task_list(cls, v):
        if isinstance(v, list):
            return {name: {} for name in v}
        return {k: x if x is not None else {} for k, x in v.items()} if isinstance(v, dict) else v

    @model_validator(mode="after")
    def _some_tasks(self) -> Matrix:
        if not self.tasks and not self.suite:
            raise ValueError("field 'tasks': give a list of task names (or name: {limit, options}), or a `suite`")
        return self

    def run_fields(self) -> dict:
        return dict(self.model_extra or {})

    def task_entries(self) -> dict[str, SuiteTask]:
        """The suite's tasks, then the matrix's own (which win for a task in both)."""
        entries = dict(load_suite(self.suite).tasks) if self.suite else {}
        entries.update(self.tasks)
        return entries


@dataclass(frozen=True)
class Published:
    """A published checkpoint that is a member of a family (a distilled student), loaded as it is."""

    model: str
    revision: str | None
    method: str

    def describe(self) -> dict:
        return {"method": "published", "model": self.model, "revision": self.revision, "how": self.method}


@dataclass(frozen=True)
class QuantizedStudent:
    """A distilled student quantized by a recipe: a member of the teacher's family (distil, then quantize)."""

    student: DistillConfig
    recipe: Recipe

    def describe(self) -> dict:
        kind = "nds" if self.student.no_teacher else "distill"
        recipe = {k: v for k, v in self.recipe.model_dump().items() if k != "method"}  # weight_bits, ... as usual
        return {"method": f"{kind}+{self.recipe.method}", **recipe,
                "student": {"method": kind, **self.student.model_dump()}}


@dataclass(frozen=True)
class PlannedRun:
    """One (model, variant, task) evaluation; `recipe` is a quantization Recipe, a DistillConfig, a quantized
    student, a Published member, or None for the base model itself."""

    family: str
    base: str
    revision: str | None
    variant: str
    recipe: Recipe | DistillConfig | QuantizedStudent | Published | None
    task: str

    @property
    def run_name(self) -> str:
        return f"{self.family}/{self.variant}"


def load_matrix(path: Path) -> Matrix:
    raw = read_mapping(path, "matrix")
    raw.setdefault("name", path.stem)
    matrix = validate(Matrix, raw, f"matrix file {path}")
    anchor_data_dirs(matrix.tasks, path, f"matrix file {path}")
    return matrix


def family_path(name_or_path: str) -> Path:
    path = Path(name_or_path).expanduser()
    if not path.suffix and not path.exists():
        path = repo_root() / "configs" / "families" / f"{name_or_path}.yaml"
    return path


def _published(fam: Family) -> tuple[str, str, str | None, list[tuple[str, Published]]]:
    from bench.compress.families import load_family

    config = load_family(family_path(fam.published))
    members = [(s.name, Published(s.id, s.revision, s.method)) for s in config.students]
    return fam.name or config.name, config.teacher.id, config.teacher.revision, members


def plan(matrix: Matrix) -> list[PlannedRun]:
    """Every run the matrix asks for, base first in each family; recipes and tasks are checked up front."""
    from bench.tasks.registry import get_task

    tasks = [get_task(name).name for name in matrix.task_entries()]
    runs, names = [], []
    for fam in matrix.families:
        if fam.published is not None:
            fname, base, revision, variants = _published(fam)
        else:
            fname, base, revision, variants = fam.family_name(), fam.base, fam.revision, []
        for v in fam.variants:
            if isinstance(v, str):
                recipe = load_recipe(v)
                if matrix.calibration is not None and recipe.calibrated:
                    recipe = recipe.model_copy(update={"calibration": matrix.calibration})
                variants.append((recipe.name, recipe))
            else:
                teacher = {"teacher": base, "teacher_revision": revision}
                try:
                    student = parse_config({**v.distill, **teacher})
                    if v.quantize is not None:
                        if student.save_dtype != "float32":
                            raise UserError("field 'quantize': a student is quantized from its float32 weights; "
                                            "drop distill.save_dtype here")
                        recipe = load_recipe(v.quantize)
                        if matrix.calibration is not None and recipe.calibrated:
                            recipe = recipe.model_copy(update={"calibration": matrix.calibration})
                        student = QuantizedStudent(student, recipe)
                    variants.append((v.name, student))
                except UserError as e:
                    raise UserError(f"matrix '{matrix.name}', variant '{v.name}': {e}") from None
        if "base" in {name for name, _ in variants}:
            raise UserError(f"matrix '{matrix.name}': a variant may not be called 'base'")
        if len({name for name, _ in variants}) != len(variants):
            raise UserError(f"matrix '{matrix.name}', family '{fname}': two variants share a name")
        names.append(fname)
        for name, recipe in [("base", None), *variants]:
            for task in tasks:
                runs.append(PlannedRun(fname, base, revision, name, recipe, task))
    if len(set(names)) != len(names):
        raise UserError(f"matrix '{matrix.name}': two families share a name; give each a distinct `name`")
    return runs
