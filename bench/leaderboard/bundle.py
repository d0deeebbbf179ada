"""Validate a bundle of run folders before anything is accepted: every check a submission must pass.

A bundle is one or more families, each a base run and variant runs per task. Each run folder must hold
exactly manifest.json, metrics.json and items.parquet as plain files within the size limits; the manifest and
metrics must match their schemas and carry the required provenance; the items must be the ones the manifest
names (its item-id hash, and the file hashes it records: bench.store.runs.verify_run); every metric must be
recomputable from the items (the returned runs carry the recomputed metrics); and every variant must pair
with its family's base run of the same task (same task file, template, data and items).
The first failure is reported with its file and field; nothing is accepted in part.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bench.compare.pairing import Run, differences
from bench.data.jsonl import sha256_file
from bench.errors import UserError
from bench.leaderboard import limits, schema
from bench.leaderboard.recompute import verify
from bench.leaderboard.safety import check_name, check_text, read_json, regular_file, walk_plain
from bench.store.finite import flag_mismatch, nonfinite_mask
from bench.store.provenance import digest
from bench.store.runs import INTEGRITY, LOCK, verify_run  # a run folder's lock file is left behind, never copied


@dataclass
class Family:
    name: str
    runs: list[Run] = field(default_factory=list)
    hashes: dict[Path, dict[str, str]] = field(default_factory=dict)  # run folder -> file name -> sha256
    contents: dict[Path, str] = field(default_factory=dict)  # run folder -> content digest (`content_digest`)

    def base(self, task: str) -> Run | None:
        return next((r for r in self.runs if r.task == task and variant_of(r) == "base"), None)

    def content_sha256(self) -> str:
        """What the family's runs hold, independent of where they lie and of how their files are encoded: the
        duplicate-submission key, and what `build` checks a submission's content_sha256 against."""
        return digest(sorted((variant_of(r), r.task, self.contents[r.path]) for r in self.runs))


def fingerprint(manifest: dict) -> str | None:
    """The sha256 of the weights a run evaluated (None for a hub model known by its revision only)."""
    return (manifest["model"].get("fingerprint") or {}).get("sha256")


def variant_of(run: Run) -> str:
    return run.manifest["variant"]["name"]


def find_run_dirs(paths: list[Path]) -> list[Path]:
    """Run folders given directly or found below the given folders (a folder holding manifest.json)."""
    out: list[Path] = []
    for p in paths:
        if p.is_symlink():
            raise UserError(f"{p}: is a symbolic link; give the folder itself")
        if not p.is_dir():
            raise UserError(f"{p}: no such folder")
        found = [f.parent for f in walk_plain(p) if f.name == "manifest.json"]
        unfinished = sorted({f.parent.parent for f in walk_plain(p) if f.parent.name == ".work"} - set(found))
        if unfinished:
            raise UserError(f"{unfinished[0]}: an unfinished run (no manifest.json); finish or remove it first")
        if not found:
            raise UserError(f"{p}: holds no run folder (a folder with manifest.json, metrics.json, items.parquet)")
        out.extend(found)
    out = sorted(set(out))
    if len(out) > limits.MAX_RUNS:
        raise UserError(f"{len(out)} run folders; at most {limits.MAX_RUNS} are accepted in one submission")
    return out


def content_digest(manifest: dict, metrics: dict, items: pd.DataFrame) -> str:
    """A run's content as parsed values: the manifest (but `integrity`, the byte hashes of the other two
    files), the metrics, and the items' values column by column. Re-indenting a JSON file or re-encoding the
    parquet file changes its bytes, not this."""
    table = pa.Table.from_pandas(items, preserve_index=False)
    return digest({"manifest": {k: v for k, v in manifest.items() if k != INTEGRITY}, "metrics": metrics,
                   "items": table.to_pydict()})


def load_run_checked(run_dir: Path) -> tuple[Run, dict[str, str], str]:
    """One run folder, fully checked; its file hashes and its content digest."""
    extra = sorted(str(f.relative_to(run_dir)) for f in walk_plain(run_dir)
                   if str(f.relative_to(run_dir)) not in (*limits.RUN_FILES, LOCK))
    if extra:
        raise UserError(f"{run_dir / extra[0]}: unexpected file in a run folder (expected only "
                        f"{', '.join(limits.RUN_FILES)})")
    regular_file(run_dir / "items.parquet", limits.MAX_ITEMS_BYTES)
    mpath, xpath, ipath = (run_dir / n for n in limits.RUN_FILES)
    raw = read_json(mpath)
    manifest = schema.check(schema.Manifest, raw, mpath)
    schema.require_libraries(manifest, mpath)
    check_name(manifest.variant.family, f"{mpath}: field 'variant.family'")
    check_name(manifest.variant.name, f"{mpath}: field 'variant.name'")
    check_name(manifest.task.name, f"{mpath}: field 'task.name'")
    check_text(manifest.model.spec, f"{mpath}: field 'model.spec'")
    hashes = {n: sha256_file(run_dir / n) for n in limits.RUN_FILES}
    verify_run(run_dir, raw, required=False)  # a run sealed before `integrity` existed: every metric is recomputed
    rawx = read_json(xpath)
    metrics = schema.check(schema.Metrics, rawx, xpath)
    if metrics.task != manifest.task.name:
        raise UserError(f"{xpath}: field 'task': '{metrics.task}' but the manifest's task is '{manifest.task.name}'")
    items = _read_items(ipath)
    ids = items["item_id"].tolist() if "item_id" in items.columns else None
    if ids is None:
        raise UserError(f"{ipath}: no 'item_id' column")
    if len(ids) != manifest.data.n_items or len(set(ids)) != len(ids):
        raise UserError(f"{ipath}: {len(ids)} rows ({len(set(ids))} distinct ids) but the manifest's field "
                        f"'data.n_items' is {manifest.data.n_items}")
    if digest(ids) != manifest.data.items_sha256:
        raise UserError(f"{ipath}: hash mismatch: the item ids do not hash to the manifest's field "
                        "'data.items_sha256'; the items are not the ones the run evaluated")
    n_counted = metrics.n_items + int(rawx.get("n_nonfinite") or 0)
    if n_counted != len(ids):
        raise UserError(f"{xpath}: fields 'n_items' + 'n_nonfinite': {n_counted} but items.parquet has {len(ids)} "
                        "rows")
    try:
        from bench.tasks.registry import get_task

        task = get_task(manifest.task.name)
    except UserError as e:
        raise UserError(f"{mpath}: field 'task.name': {e}") from None
    mismatch = flag_mismatch(items, nonfinite_mask(items, task.item_columns()))
    if mismatch:
        raise UserError(f"{ipath}: {mismatch}")
    run = Run(run_dir, raw, verify(manifest.task.name, items, rawx, xpath), items)
    return run, hashes, content_digest(raw, rawx, items)


def _read_items(path: Path) -> pd.DataFrame:
    try:
        meta = pq.read_metadata(path)
        if meta.num_rows > limits.MAX_ITEMS_ROWS:
            raise UserError(f"{path}: {meta.num_rows} rows; at most {limits.MAX_ITEMS_ROWS} are accepted")
        return pq.read_table(path).to_pandas()
    except (OSError, pa.ArrowException) as e:
        raise UserError(f"{path}: cannot read the items ({str(e).splitlines()[0][:200]})") from None


def validate(run_dirs: list[Path]) -> list[Family]:
    """Every check on every run and family; the families in name order."""
    families: dict[str, Family] = {}
    total = 0
    for d in run_dirs:
        total += sum(f.stat().st_size for f in walk_plain(d))
        if total > limits.MAX_TOTAL_BYTES:
            raise UserError(f"the bundle exceeds {limits.MAX_TOTAL_BYTES} bytes; submit fewer runs at a time")
        run, hashes, content = load_run_checked(d)
        fam = families.setdefault(run.manifest["variant"]["family"], Family(run.manifest["variant"]["family"]))
        fam.runs.append(run)
        fam.hashes[run.path] = hashes
        fam.contents[run.path] = content
    for fam in families.values():
        check_family(fam)
    return [families[k] for k in sorted(families)]


def check_family(fam: Family) -> None:
    seen: dict[tuple[str, str], Path] = {}
    for r in fam.runs:
        key = (variant_of(r), r.task)
        if key in seen:
            raise UserError(f"family '{fam.name}': variant '{key[0]}', task '{key[1]}' appears twice "
                            f"({seen[key]} and {r.path}); submit one run of each")
        seen[key] = r.path
    check_one_build(fam)
    variants = {variant_of(r) for r in fam.runs}
    if len(variants) > limits.MAX_VARIANTS_PER_FAMILY:
        raise UserError(f"family '{fam.name}': {len(variants)} variants; at most "
                        f"{limits.MAX_VARIANTS_PER_FAMILY} are accepted")
    by_task = defaultdict(list)
    for r in fam.runs:
        by_task[r.task].append(r)
    for task, runs in sorted(by_task.items()):
        base = fam.base(task)
        if base is None:
            raise UserError(f"{runs[0].path}: missing base: family '{fam.name}' has no base run (variant 'base') "
                            f"of task '{task}'; every variant is compared with its base, so include it")
        for r in runs:
            if r is base:
                continue
            diffs = differences(base, r)
            if r.manifest["seed"] != base.manifest["seed"]:
                diffs.append(f"seed differs ({base.manifest['seed']} vs {r.manifest['seed']})")
            if r.manifest["data"]["items_sha256"] != base.manifest["data"]["items_sha256"]:
                diffs.append("field 'data.items_sha256' differs (the items or their order)")
            if diffs:
                raise UserError(f"{r.path}/manifest.json: does not pair with the base run {base.path}: "
                                + "; ".join(diffs))
    if len(variants) < 2:
        raise UserError(f"family '{fam.name}': only the base runs; a submission compares variants with their base")


def check_one_build(fam: Family) -> None:
    """A variant's runs must all come from one build of its weights (one model fingerprint): a variant rebuilt on
    another CPU can differ in its last bits (GPTQ's calibration does), and its tasks would then describe two
    models under one name."""
    builds: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for r in fam.runs:
        sha = fingerprint(r.manifest) or "none"
        builds[variant_of(r)][sha].append(r.task)
    for name, by_sha in sorted(builds.items()):
        if len(by_sha) > 1:
            parts = "; ".join(f"{sha[:12]}: {', '.join(sorted(tasks))}" for sha, tasks in sorted(by_sha.items()))
            raise UserError(f"family '{fam.name}': variant '{name}' was measured on {len(by_sha)} builds of its "
                            f"weights (model fingerprints {parts}); run every task of a variant on one build")
