"""Run a matrix: materialize each variant, then evaluate base and variants with the same options."""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import groupby
from pathlib import Path

from bench.exec.local import RunOptions, evaluate
from bench.exec.plan import Matrix, PlannedRun, plan


@dataclass
class FamilyRun:
    """One model of a family (base or variant) and its run folders, one per task."""

    family: str
    variant: str
    model_path: str
    run_dirs: dict[str, Path]


def run_matrix(matrix: Matrix, opts: RunOptions) -> list[FamilyRun]:
    from bench.compress.distill import DistillConfig, distill
    from bench.compress.variants import materialize
    from bench.models.loading import resolve
    from bench.store.provenance import digest
    from bench.tasks.registry import get_task

    opts = replace(opts, seed=matrix.seed, limit=matrix.limit if opts.limit is None else opts.limit,
                   sample_data=opts.sample_data or matrix.sample_data)
    out, bases = [], {}
    runs = plan(matrix)
    for (family, variant), group in groupby(runs, key=lambda r: (r.family, r.variant)):
        group: list[PlannedRun] = list(group)
        first = group[0]
        if family not in bases:
            bases[family] = resolve(first.base, first.revision)
        recipe = first.recipe
        if recipe is None:
            ref, described, recipe_hash = bases[family], None, None
        elif isinstance(recipe, DistillConfig):
            ref = resolve(str(distill(recipe, quiet=opts.quiet)))
            described = {"method": "nds" if recipe.no_teacher else "distill", **recipe.model_dump()}
            recipe_hash = digest(described)
        else:
            ref, described, recipe_hash = materialize(bases[family], recipe), recipe.model_dump(), recipe.hash()
        tasks = [get_task(r.task) for r in group]
        vopts = replace(opts, run_name=first.run_name, variant={
            "family": family, "name": variant, "recipe": described, "recipe_hash": recipe_hash},
            **member_settings(first.settings))
        dirs = evaluate(ref, tasks, vopts)
        out.append(FamilyRun(family, variant, ref.path, {t.name: d for t, d in zip(tasks, dirs, strict=True)}))
    return out


def member_settings(settings) -> dict:
    """A family's `run:` settings as RunOptions fields (a template file read, so the run key follows it)."""
    if settings is None:
        return {}
    from bench.paths import repo_root
    from bench.tasks.generative import chat_template_setting

    out = settings.model_dump()
    if out["chat_template"] not in ("auto", "none"):
        path = Path(out["chat_template"])
        out["chat_template"] = chat_template_setting(str(path if path.is_absolute() else repo_root() / path))
    return out
