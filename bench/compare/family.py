"""Find a family's runs in a runs folder: the base variant and every other variant, per task and settings.

A matrix writes `<runs>/<family>/<variant>/<task>/<settings hash>/` with manifest `variant: {"family", "name",
"recipe", "recipe_hash"}` and `settings_key`; the base is the variant named "base". Runs are found by their
manifests, not by folder names, so a moved folder still counts. Runs pair only under the same settings (item
sample, seed, dtype, options, ...): a folder holding a sweep yields one comparison group per (task, settings).
The same run found twice (same run key, e.g. a copy under runs/demo) counts once.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.errors import UserError
from bench.store.runs import MANIFEST


def find_family(runs_dir: Path, family: str, settings: str | None = None) -> dict[str, tuple[Path, list[Path]]]:
    """'task' (or 'task@settings' where a task ran under several settings) -> (base run, [variant runs]).
    `settings`: only runs whose settings hash starts with it."""
    if not runs_dir.is_dir():
        raise UserError(f"--runs {runs_dir}: no such folder")
    groups: dict[tuple[str, str], dict[str, dict[str, Path]]] = {}
    families = set()
    for path in sorted(runs_dir.rglob(MANIFEST), key=lambda p: (len(p.parts), p)):
        try:
            manifest = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        variant = manifest.get("variant") or {}
        task = (manifest.get("task") or {}).get("name")
        if variant.get("family"):
            families.add(str(variant["family"]))
        if variant.get("family") != family or not task:
            continue
        key = str(manifest.get("settings_key") or "-")
        if settings and not key.startswith(settings):
            continue
        runs = groups.setdefault((task, key), {}).setdefault(str(variant.get("name")), {})
        runs.setdefault(str(manifest.get("run_key") or path.parent), path.parent)  # a copy counts once
    if not groups:
        known = ", ".join(sorted(families)) or "none"
        extra = f" with settings '{settings}'" if settings else ""
        raise UserError(f"no runs of family '{family}'{extra} under {runs_dir} (families found: {known})")
    several = {task for task, _ in groups if sum(t == task for t, _ in groups) > 1}
    out = {}
    for (task, key), variants in sorted(groups.items()):
        where = f"family '{family}', task '{task}'" + (f", settings {key}" if task in several else "")
        bases = list(variants.pop("base", {}).values())
        if len(bases) != 1:
            what = "no run" if not bases else f"{len(bases)} different runs ({', '.join(map(str, bases))})"
            raise UserError(f"{where}: expected one base run (variant name 'base'), found {what}; pass "
                            "--settings HASH (see `qdbench show --list`) or a narrower --runs folder")
        others = [p for name in sorted(variants) for p in variants[name].values()]
        if not others:
            if task in several:
                continue  # e.g. the base alone under a setting no variant used
            raise UserError(f"{where}: only the base run exists; nothing to compare")
        out[f"{task}@{key}" if task in several else task] = (bases[0], others)
    if not out:
        raise UserError(f"family '{family}': no settings under which a base and a variant both ran")
    return out
