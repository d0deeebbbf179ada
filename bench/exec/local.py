"""Evaluate models on tasks on this machine: resumable, with a progress display, one run folder per run.

A run folder is `<out>/<model>/<task>/<settings>/`, where <settings> is a short hash of what determines the
items and the answers besides the model: the item sample (limit, data files), seed, dtype, task options and
any other result-changing option (mode, backend, ...). A sweep over any of them needs no hand-made --out;
base and variants of a family run with the same settings share the hash, which is how comparisons find them.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from bench import __version__
from bench.data import store as data_store
from bench.data.sampling import stratified_sample
from bench.errors import UserError
from bench.models.builtin import about as builtin_about
from bench.models.hf import HFBackend
from bench.models.loading import ModelRef, fingerprint
from bench.models.requests import GenerationRequest, LoglikelihoodRequest
from bench.safepath import confined
from bench.store.finite import NONFINITE, check_fraction, flag_row, nonfinite_mask
from bench.store.provenance import digest, hardware, libraries
from bench.store.runs import RunStore, verify_run
from bench.tasks.base import Task
from bench.tasks.dryrun import check_task

SCHEMA = "qdbench.run/1"


@dataclass
class RunOptions:
    out: Path = Path("runs")
    limit: int | None = None
    data_dir: Path | None = None
    sample_data: bool = False
    seed: int = 1234
    device: str = "auto"
    dtype: str = "auto"
    batch_tokens: int = 16384
    chunk_items: int = 64
    revision: str | None = None
    trust_remote_code: bool = False
    variant: dict = field(default_factory=lambda: {"family": None, "name": "base", "recipe": None,
                                                   "recipe_hash": None})
    run_name: str | None = None
    quiet: bool = False
    task_options: dict = field(default_factory=dict)  # override the task YAML's `options:` (e.g. classifier)


@dataclass
class Prepared:
    """Everything checked before any folder is written."""

    task: Task
    dataset: data_store.Dataset
    docs: list[dict]
    ids: list[str]
    warnings: list[str]


def takes(task: Task) -> set[str]:
    """The options a task reads: those its YAML sets and those its hooks module lists in `OPTIONS`."""
    return set(task.spec.options) | set(getattr(task.hooks, "OPTIONS", ()))


def check_options(tasks: list[Task], per_task: list[RunOptions]) -> None:
    """An option given for the run that no task of it reads is refused (it would only change the run key)."""
    given = sorted({k for o in per_task for k, v in o.task_options.items() if v is not None})
    for key in given:
        if not any(key in takes(t) for t in tasks):
            from bench.tasks.registry import list_tasks

            users = [t.name for t in list_tasks() if key in takes(t)]
            raise UserError(f"--{key.replace('_', '-')} does not apply to task(s) {', '.join(t.name for t in tasks)}"
                            f"; it is an option of: {', '.join(users) or 'no task'}")


def with_options(task: Task, opts: RunOptions) -> Task:
    """The task with `opts.task_options` it reads over its YAML options, plus the run seed for seeded hooks."""
    options = {**task.spec.options, **{k: v for k, v in opts.task_options.items() if v is not None
                                       and k in takes(task)}, "run_seed": opts.seed}
    return dataclasses.replace(task, spec=task.spec.model_copy(update={"options": options}))


def prepare(task: Task, opts: RunOptions) -> Prepared:
    if opts.limit is not None and opts.limit <= 0:
        raise UserError(f"--limit must be a positive number of items (got {opts.limit})")
    task = with_options(task, opts)
    if hasattr(task.hooks, "setup"):
        task.hooks.setup(task)  # e.g. load a scoring model: its errors come before any work
    dataset = data_store.load(task.spec, opts.data_dir, sample=opts.sample_data)
    check_task(task, dataset.docs)
    keep = stratified_sample(dataset.docs, opts.limit, task.spec.stratify_by or task.spec.group_by, opts.seed)
    docs = [dataset.docs[i] for i in keep]
    ids = [task.item_id(d) for d in docs]
    if len(set(ids)) != len(ids):
        raise UserError(f"task '{task.name}': item ids are not unique in {dataset.path}")
    warnings = task.check_docs(docs)
    if opts.limit is not None and opts.limit > len(dataset.docs):
        warnings.append(f"--limit {opts.limit} asks for more items than the {dataset.origin} data holds "
                        f"({len(dataset.docs)}); running all {len(dataset.docs)}")
    return Prepared(task, dataset, docs, ids, warnings)


# RunOptions fields that do not change a run's items or answers (where and how fast it runs, what it is
# called); every other field, present or added later, is part of the settings key.
NOT_SETTINGS = {"out", "quiet", "chunk_items", "batch_tokens", "device", "run_name", "variant", "revision",
                "trust_remote_code", "data_dir", "task_options", "sample_data"}
SETTINGS_KEY_LENGTH = 10


def run_settings(p: Prepared, opts: RunOptions) -> dict:
    """What a base and its variants must share to be compared item by item (all but the model)."""
    values = {k: v for k, v in dataclasses.asdict(opts).items() if k not in NOT_SETTINGS}
    return {**{k: str(v) if isinstance(v, Path) else v for k, v in values.items()},
            "task": p.task.name, "task_sha256": p.task.file_sha256(), "options": p.task.spec.options,
            "data": p.dataset.files, "items": digest(p.ids), "n_items": len(p.ids)}


def settings_key(settings: dict) -> str:
    return digest(settings)[:SETTINGS_KEY_LENGTH]


def run_dir_for(opts: RunOptions, ref: ModelRef, task: Task, key: str) -> Path:
    name = opts.run_name or ref.slug
    return confined(opts.out, *name.split("/"), task.name, key, what=f"run folder of task '{task.name}'")


def evaluate(ref: ModelRef, tasks: list[Task], opts: RunOptions | list[RunOptions],
             backend: HFBackend | None = None) -> list[Path]:
    """Run every task for one model (with one RunOptions, or one per task); the model loads once, only if
    some run has work left."""
    per_task = opts if isinstance(opts, list) else [opts] * len(tasks)
    check_options(tasks, per_task)
    prepared = [prepare(t, o) for t, o in zip(tasks, per_task, strict=True)]  # data errors before the model loads
    model_print = fingerprint(Path(ref.path)) if ref.kind != "hub" else {"revision": ref.revision}
    out = []
    for p, o in zip(prepared, per_task, strict=True):
        settings = run_settings(p, o)
        run_dir = run_dir_for(o, ref, p.task, settings_key(settings))
        key = run_key(ref, model_print, p, o)
        store = RunStore(run_dir)
        if store.is_complete():
            if store.manifest().get("run_key") == key:
                verify_run(run_dir)
                store.clean_if_idle()
                _say(o, f"{run_dir}: already complete, nothing to do")
                out.append(run_dir)
                continue
            raise UserError(f"{run_dir} holds a finished run of another '{o.run_name or ref.slug}' (the model's "
                            "weights or recipe changed since); remove that folder to run it again, or use "
                            "another --out")
        if backend is None:
            from bench.logs import route_libraries

            backend = HFBackend(ref, device=o.device, dtype=o.dtype, batch_tokens=o.batch_tokens,
                                trust_remote_code=o.trust_remote_code)
            route_libraries()
        out.append(_run_one(backend, ref, model_print, p, store, key, settings, o))
    return out


def answer(backend, requests: list, progress=None) -> list:
    """Send each kind of request to the backend method that answers it, keeping the order; `progress(n)` is
    called as the backend finishes batches (n in the backend's units, at most the number of requests)."""
    out: list = [None] * len(requests)
    for kind, method in ((LoglikelihoodRequest, "loglikelihood"), (GenerationRequest, "generate")):
        idx = [i for i, r in enumerate(requests) if isinstance(r, kind)]
        if idx:
            kwargs = {"progress": progress} if progress is not None else {}
            for i, res in zip(idx, getattr(backend, method)([requests[i] for i in idx], **kwargs), strict=True):
                out[i] = res
    return out


def run_key(ref: ModelRef, model_print: dict, p: Prepared, opts: RunOptions) -> str:
    return digest({
        "model": model_print, "variant": opts.variant, "task": p.task.file_sha256(),
        "data": p.dataset.files, "items": digest(p.ids), "dtype": opts.dtype, "seed": opts.seed,
        "options": p.task.spec.options,
    })


def _run_one(backend: HFBackend, ref: ModelRef, model_print: dict, p: Prepared, store: RunStore, key: str,
             settings: dict, opts: RunOptions) -> Path:
    with store.lock():
        if store.is_complete() and store.manifest().get("run_key") == key:  # finished while we loaded the model
            verify_run(store.dir)
            return store.dir
        return _run_locked(backend, ref, model_print, p, store, key, settings, opts)


def _run_locked(backend: HFBackend, ref: ModelRef, model_print: dict, p: Prepared, store: RunStore, key: str,
                settings: dict, opts: RunOptions) -> Path:
    from bench.exec.progress import ItemProgress

    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    store.begin(key)
    done = store.done_ids()
    todo = [(i, d) for i, d in zip(p.ids, p.docs, strict=True) if i not in done]
    for w in p.warnings:
        _say(opts, f"note: {p.task.name}: {w}")
    label = f"{opts.run_name or ref.slug} · {p.task.name}"
    with ItemProgress(label, total=len(p.ids), done=len(p.ids) - len(todo), quiet=opts.quiet) as bar:
        for start in range(0, len(todo), opts.chunk_items):
            chunk = todo[start:start + opts.chunk_items]
            reqs = [p.task.requests(d) for _, d in chunk]
            flat_reqs = [r for rs in reqs for r in rs]
            flat = answer(backend, flat_reqs, bar.within(len(chunk), len(flat_reqs)))
            rows, k = [], 0
            for (_, doc), rs in zip(chunk, reqs, strict=True):
                results = flat[k:k + len(rs)]
                rows.append(flag_row(p.task.record(doc, results), results, p.task.spec.fields))
                k += len(rs)
            store.append(rows)
            bar.finish_chunk(len(chunk))
    records = store.items_in_order(p.ids)
    bad = nonfinite_mask(records)
    records[NONFINITE] = bad
    check_fraction(int(bad.sum()), len(records), f"{store.dir} (task '{p.task.name}')")
    metrics = {**p.task.metrics(records[~bad]), "n_nonfinite": int(bad.sum())}
    if bad.any():
        _say(opts, f"note: {p.task.name}: {int(bad.sum())} of {len(records)} items have non-finite scores; left "
                   "out of the metrics (flagged `nonfinite` in items.parquet)")
    wall = time.perf_counter() - t0
    manifest = {
        "schema": SCHEMA,
        "status": "complete",
        "run_key": key,
        "qdbench_version": __version__,
        "command": sys.argv,
        "model": {**ref.to_dict(), "fingerprint": model_print, "about": builtin_about(ref.path) if ref.is_builtin
                  else None, "backend": backend.name,
                  "device": backend.device, "dtype": backend.dtype,
                  "parameters": sum(t.numel() for t in backend.model.parameters()),
                  "config_commit": getattr(backend.model.config, "_commit_hash", None)},
        "variant": opts.variant,
        "task": {"name": p.task.name, "version": p.task.spec.version, "yaml_sha256": p.task.file_sha256(),
                 "template_hash": p.task.spec.template_hash(), "options": p.task.spec.options},
        "data": {**p.dataset.provenance(), "n_items_available": len(p.dataset.docs), "n_items": len(p.ids),
                 "n_nonfinite": int(bad.sum()),
                 "limit": opts.limit, "items_sha256": digest(p.ids)},
        "settings": {"batch_tokens": opts.batch_tokens, "chunk_items": opts.chunk_items},
        "settings_key": settings_key(settings),
        "run_settings": settings,
        "seed": opts.seed,
        "libraries": libraries(),
        "hardware": hardware(backend.device),
        "timings": {"started": started.isoformat(timespec="seconds"),
                    "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "wall_s_last_session": round(wall, 3), "items_resumed": len(done),
                    "items_per_s_last_session": round(len(todo) / wall, 2) if wall else None},
    }
    store.finalize(records, metrics, manifest)
    return store.dir


def _say(opts: RunOptions, text: str) -> None:
    if not opts.quiet:
        print(text, file=sys.stderr)
