"""Run a matrix: materialize each variant, then evaluate base and variants with the same options."""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import groupby
from pathlib import Path

from bench.exec.local import RunOptions, evaluate
from bench.exec.plan import Matrix, PlannedRun, plan
from bench.models.loading import ModelRef


@dataclass
class FamilyRun:
    """One model of a family (base or variant) and its run folders, one per task."""

    family: str
    variant: str
    model_path: str
    run_dirs: dict[str, Path]


def matrix_options(matrix: Matrix, opts: RunOptions) -> RunOptions:
    """The command line's options with the matrix's seed, limit and sample choice (shared by every executor)."""
    return replace(opts, seed=matrix.seed, limit=matrix.limit if opts.limit is None else opts.limit,
                   sample_data=opts.sample_data or matrix.sample_data)


def build_variant(first: PlannedRun, base: ModelRef, opts: RunOptions) -> tuple[ModelRef, RunOptions]:
    """The variant's model (built once, cached by content) and the options its runs use."""
    from bench.compress.distill import DistillConfig, distill
    from bench.compress.variants import materialize
    from bench.models.loading import resolve
    from bench.store.provenance import digest

    recipe = first.recipe
    if recipe is None:
        ref, described, recipe_hash = base, None, None
    elif isinstance(recipe, DistillConfig):
        ref = resolve(str(distill(recipe, quiet=opts.quiet)))
        described = {"method": "nds" if recipe.no_teacher else "distill", **recipe.model_dump()}
        recipe_hash = digest(described)
    else:
        ref, described, recipe_hash = materialize(base, recipe), recipe.model_dump(), recipe.hash()
    return ref, replace(opts, run_name=first.run_name, variant={
        "family": first.family, "name": first.variant, "recipe": described, "recipe_hash": recipe_hash})


def run_matrix(matrix: Matrix, opts: RunOptions) -> list[FamilyRun]:
    from bench.models.loading import resolve
    from bench.tasks.registry import get_task

    opts = matrix_options(matrix, opts)
    out, bases = [], {}
    runs = plan(matrix)
    for (family, variant), group in groupby(runs, key=lambda r: (r.family, r.variant)):
        group: list[PlannedRun] = list(group)
        first = group[0]
        if family not in bases:
            bases[family] = resolve(first.base, first.revision)
        ref, vopts = build_variant(first, bases[family], opts)
        tasks = [get_task(r.task) for r in group]
        dirs = evaluate(ref, tasks, vopts)
        out.append(FamilyRun(family, variant, ref.path, {t.name: d for t, d in zip(tasks, dirs, strict=True)}))
    return out
