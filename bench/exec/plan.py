"""Matrices (`configs/matrices/*.yaml`): base models × their variants × tasks, turned into a list of runs.

Every run of a family shares the task list, item sample, seed and settings, so base and variants are
evaluated on identical items and can be compared item by item.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bench.compress.distill import DistillConfig, parse_config
from bench.compress.recipes import Recipe, load_recipe
from bench.configio import read_mapping, validate
from bench.errors import UserError


class DistilledVariant(BaseModel):
    """A student distilled from the family's base (the teacher): `distill` holds DistillConfig fields."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9][\w.-]*$")
    distill: dict


class MemberSettings(BaseModel):
    """How a family's members answer (RunOptions fields): e.g. a reasoning model with thinking on and off, or an
    instruct model with and without its chat template, as two families of one matrix."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mode: Literal["loglikelihood", "generate"] = "loglikelihood"
    chat_template: str = Field("auto", description="auto, none, or a template file (relative to the repository)")
    system_prompt: str | None = None
    max_new_tokens: int | None = Field(None, gt=0)
    max_think_tokens: int | None = Field(None, gt=0)
    enable_thinking: bool | None = None
    num_fewshot: int = Field(0, ge=0)


class Family(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base: str = Field(description="builtin:NAME, a local folder or a hub id")
    run: MemberSettings | None = Field(None, description="generation settings shared by this family's runs")
    revision: str | None = None
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9][\w.-]*$", description="family name; default from base")
    variants: list[str | DistilledVariant] = Field(
        default_factory=list, description="recipe names or YAML paths, or {name, distill: {...}} students")

    @field_validator("variants")
    @classmethod
    def _unique(cls, v: list) -> list:
        names = [x if isinstance(x, str) else x.name for x in v]
        if len(set(names)) != len(names):
            raise ValueError("variants are listed more than once")
        return v

    def family_name(self) -> str:
        return self.name or re.sub(r"[^\w.-]+", "-", self.base.removeprefix("builtin:").rstrip("/")
                                   .split("/")[-1]).strip("-") or "model"


class Matrix(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    families: list[Family] = Field(min_length=1)
    tasks: list[str] = Field(min_length=1)
    limit: int | None = Field(None, gt=0)
    sample_data: bool = Field(False, description="use the tasks' shipped samples even where data was imported")
    seed: int = 1234


@dataclass(frozen=True)
class PlannedRun:
    """One (model, variant, task) evaluation; `recipe` is a quantization Recipe, a DistillConfig, or None for
    the base model itself."""

    family: str
    base: str
    revision: str | None
    variant: str
    recipe: Recipe | DistillConfig | None
    task: str
    settings: MemberSettings | None = None

    @property
    def run_name(self) -> str:
        return f"{self.family}/{self.variant}"


def load_matrix(path: Path) -> Matrix:
    raw = read_mapping(path, "matrix")
    raw.setdefault("name", path.stem)
    return validate(Matrix, raw, f"matrix file {path}")


def plan(matrix: Matrix) -> list[PlannedRun]:
    """Every run the matrix asks for, base first in each family; recipes and tasks are checked up front."""
    from bench.tasks.registry import get_tasks

    tasks = [t.name for t in get_tasks(",".join(matrix.tasks))]
    names = [f.family_name() for f in matrix.families]
    if len(set(names)) != len(names):
        raise UserError(f"matrix '{matrix.name}': two families share a name; give each a distinct `name`")
    runs = []
    for fam, fname in zip(matrix.families, names, strict=True):
        variants = []
        for v in fam.variants:
            if isinstance(v, str):
                recipe = load_recipe(v)
                variants.append((recipe.name, recipe))
            else:
                teacher = {"teacher": fam.base, "teacher_revision": fam.revision}
                try:
                    variants.append((v.name, parse_config({**v.distill, **teacher})))
                except UserError as e:
                    raise UserError(f"matrix '{matrix.name}', variant '{v.name}': {e}") from None
        if "base" in {name for name, _ in variants}:
            raise UserError(f"matrix '{matrix.name}': a variant may not be called 'base'")
        for name, recipe in [("base", None), *variants]:
            for task in tasks:
                runs.append(PlannedRun(fname, fam.base, fam.revision, name, recipe, task, fam.run))
    return runs
