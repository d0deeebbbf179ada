"""Run a matrix: materialize each variant, then evaluate base and variants with the same options."""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import groupby
from pathlib import Path

from bench.exec.local import RunOptions, evaluate
from bench.exec.plan import Matrix, PlannedRun, Published, plan


@dataclass
class FamilyRun:
    """One model of a family (base or variant) and its run folders, one per task."""

    family: str
    variant: str
    model_path: str
    run_dirs: dict[str, Path]


def run_matrix(matrix: Matrix, per_task: dict[str, RunOptions]) -> list[FamilyRun]:
    """Every planned run, each task with its own options (`per_task`: task name -> RunOptions), identical
    for every model of a family."""
    from bench.compress.distill import DistillConfig, distill
    from bench.compress.variants import materialize
    from bench.logs import route_libraries
    from bench.models.loading import resolve
    from bench.store.provenance import digest
    from bench.tasks.registry import get_task

    out, bases = [], {}
    runs = plan(matrix)
    quiet = all(o.quiet for o in per_task.values())
    for (family, variant), group in groupby(runs, key=lambda r: (r.family, r.variant)):
        group: list[PlannedRun] = list(group)
        first = group[0]
        if family not in bases:
            bases[family] = resolve(first.base, first.revision)
        recipe = first.recipe
        if recipe is None:
            ref, described, recipe_hash = bases[family], None, None
        elif isinstance(recipe, Published):
            ref, described = resolve(recipe.model, recipe.revision), recipe.describe()
            recipe_hash = digest(described)
        elif isinstance(recipe, DistillConfig):
            ref = resolve(str(distill(recipe, quiet=quiet)))
            described = {"method": "nds" if recipe.no_teacher else "distill", **recipe.model_dump()}
            recipe_hash = digest(described)
        else:
            ref, described, recipe_hash = materialize(bases[family], recipe), recipe.model_dump(), recipe.hash()
        route_libraries()
        tasks = [get_task(r.task) for r in group]
        variant_info = {"family": family, "name": variant, "recipe": described, "recipe_hash": recipe_hash}
        opts = [replace(per_task[t.name], run_name=first.run_name, variant=variant_info) for t in tasks]
        dirs = evaluate(ref, tasks, opts)
        out.append(FamilyRun(family, variant, ref.path, {t.name: d for t, d in zip(tasks, dirs, strict=True)}))
    return out
