"""Run a matrix: materialize each variant, then evaluate base and variants with the same options."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from itertools import groupby
from pathlib import Path

from bench.exec.local import RunOptions, evaluate
from bench.exec.plan import Matrix, PlannedRun, Published, QuantizedStudent, plan
from bench.models.loading import ModelRef


@dataclass
class FamilyRun:
    """One model of a family (base or variant) and its run folders, one per task."""

    family: str
    variant: str
    model_path: str
    run_dirs: dict[str, Path]


def build_variant(first: PlannedRun, base: ModelRef, quiet: bool) -> tuple[ModelRef, dict]:
    """The model of one (family, variant), built once and cached by content, and the `variant` record its runs
    carry (shared by every executor)."""
    from bench.compress.distill import DistillConfig, distill
    from bench.compress.variants import materialize
    from bench.models.loading import resolve
    from bench.store.provenance import digest

    recipe = first.recipe
    if recipe is None:
        ref, described, recipe_hash = base, None, None
    elif isinstance(recipe, Published):
        ref, described = resolve(recipe.model, recipe.revision), recipe.describe()
        recipe_hash = digest(described)
    elif isinstance(recipe, DistillConfig):
        ref = resolve(str(distill(recipe, quiet=quiet)))
        described = {"method": "nds" if recipe.no_teacher else "distill", **recipe.model_dump()}
        recipe_hash = digest(described)
    elif isinstance(recipe, QuantizedStudent):
        ref = materialize(resolve(str(distill(recipe.student, quiet=quiet))), recipe.recipe)
        described = recipe.describe()
        recipe_hash = digest(described)
    else:
        ref, described, recipe_hash = materialize(base, recipe), recipe.model_dump(), recipe.hash()
        built = folder_variant(ref)  # the recipe as built (calibration resolved), as a run by path records it
        if built is not None:
            described, recipe_hash = built["recipe"], built["recipe_hash"]
    return ref, {"family": first.family, "name": first.variant, "recipe": described, "recipe_hash": recipe_hash}


def folder_variant(ref: ModelRef) -> dict | None:
    """The `variant` record of a variant folder qdbench built (its qdbench_variant.json: family, recipe, recipe
    hash), so a folder run by path is recorded as what it is; None for any other model. The family is the one
    its base names by default (a matrix may call it otherwise)."""
    from bench.compress.variants import read_provenance
    from bench.exec.plan import default_family_name
    from bench.store.provenance import digest

    if ref.kind == "hub":
        return None
    try:
        prov = read_provenance(ref.path)
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(prov, dict):
        return None
    if isinstance(prov.get("recipe"), dict) and prov.get("recipe_hash"):
        base = str((prov.get("base") or {}).get("spec") or "")
        return {"family": default_family_name(base), "name": str(prov["recipe"].get("name") or Path(ref.path).name),
                "recipe": prov["recipe"], "recipe_hash": prov["recipe_hash"]}
    if prov.get("kind") in ("distilled", "nds") and isinstance(prov.get("config"), dict):
        described = {"method": "nds" if prov["kind"] == "nds" else "distill", **prov["config"]}
        return {"family": default_family_name(str(prov.get("family") or "")), "name": Path(ref.path).name,
                "recipe": described, "recipe_hash": digest(described)}
    return None


def run_matrix(matrix: Matrix, per_task: dict[str, RunOptions],
               family_options: dict[str, dict] | None = None) -> list[FamilyRun]:
    """Every planned run, each task with its own options (`per_task`: task name -> RunOptions), identical
    for every model of a family; `family_options` (family name -> option values) over them, per family."""
    from bench.logs import route_libraries
    from bench.models.loading import resolve
    from bench.tasks.registry import get_task

    out, bases = [], {}
    runs = plan(matrix)
    quiet = all(o.quiet for o in per_task.values())
    for (family, variant), group in groupby(runs, key=lambda r: (r.family, r.variant)):
        group: list[PlannedRun] = list(group)
        first = group[0]
        if family not in bases:
            bases[family] = resolve(first.base, first.revision)
        ref, variant_info = build_variant(first, bases[family], quiet)
        route_libraries()
        tasks = [get_task(r.task) for r in group]
        opts = [with_family_options(replace(per_task[t.name], run_name=first.run_name, variant=variant_info),
                                    (family_options or {}).get(family, {})) for t in tasks]
        dirs = evaluate(ref, tasks, opts)
        out.append(FamilyRun(family, variant, ref.path, {t.name: d for t, d in zip(tasks, dirs, strict=True)}))
    return out



def with_family_options(opts: RunOptions, values: dict) -> RunOptions:
    """`opts` with a family's own run options: RunOptions fields by name, any other a task option."""
    names = {f.name for f in fields(RunOptions)}
    return replace(opts, **{k: v for k, v in values.items() if k in names},
                   task_options={**opts.task_options, **{k: v for k, v in values.items() if k not in names}})
