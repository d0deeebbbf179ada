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
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from bench import __version__
from bench.compress.size import measure, recorded
from bench.data import store as data_store
from bench.data.sampling import n_units, stratified_sample
from bench.errors import UserError
from bench.exec.options_table import NOT_SETTINGS, RUN_KEY_FIELDS, RunOptions
from bench.models.backend import Backend, answer, as_backend
from bench.models.builtin import about as builtin_about
from bench.models.loading import ModelRef, context_length, fingerprint
from bench.safepath import confined
from bench.store.finite import NONFINITE, check_fraction, flag_row, nonfinite_mask
from bench.store.provenance import ITEM_HASH, digest, hardware, item_hash, libraries
from bench.store.runs import RunStore, verify_run
from bench.tasks import fewshot, generative
from bench.tasks.base import Task
from bench.tasks.dryrun import check_task

SCHEMA = "qdbench.run/1"


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
    return set(task.spec.options) | set(task.hook.OPTIONS)


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
    """The task with `opts.task_options` it reads over its YAML options, the generate-mode settings and the
    run seed for seeded hooks."""
    options = {**task.spec.options, **{k: v for k, v in opts.task_options.items() if v is not None
                                       and k in takes(task)}, **opts.generation_options(), "run_seed": opts.seed}
    return dataclasses.replace(task, spec=task.spec.model_copy(update={"options": options}))


def prepare(task: Task, opts: RunOptions) -> Prepared:
    if opts.limit is not None and opts.limit <= 0:
        raise UserError(f"--limit must be a positive number of items (got {opts.limit})")
    check_generation_options(opts)
    if opts.mode == "generate":
        generative.check_task(task)
    task = with_options(task, opts)
    task.hook.setup(task)  # e.g. load a scoring model: its errors come before any work
    dataset = data_store.load(task.spec, opts.data_dir, sample=opts.sample_data)
    check_task(task, dataset.docs)
    pool, candidates = [], dataset.docs
    if opts.num_fewshot:
        pool, candidates = fewshot_split(task, dataset.docs, opts)
    unit = task.hook.SAMPLE_UNIT  # --limit counts these (e.g. descriptors), not items
    keep = stratified_sample(candidates, opts.limit, task.spec.stratify_by or task.spec.group_by, opts.seed, unit)
    docs = [candidates[i] for i in keep]
    if pool:
        pool_ids = [task.item_id(d) for d in pool]
        docs = [{**d, "__fewshot__": [pool[j] for j in fewshot.draw(pool_ids, task.item_id(d), opts.num_fewshot,
                                                                    opts.seed)]} for d in docs]
    ids = [task.item_id(d) for d in docs]
    if len(set(ids)) != len(ids):
        raise UserError(f"task '{task.name}': item ids are not unique in {dataset.path}")
    warnings = task.check_docs(docs)
    available = n_units(dataset.docs, unit)
    if opts.limit is not None and opts.limit > available:
        what = f"{unit} units" if unit else "items"
        warnings.append(f"--limit {opts.limit} asks for more {what} than the {dataset.origin} data holds "
                        f"({available}); running all {available}")
    return Prepared(task, dataset, docs, ids, warnings)


def check_generation_options(opts: RunOptions) -> None:
    if opts.mode not in ("loglikelihood", "generate"):
        raise UserError(f"--mode '{opts.mode}': expected loglikelihood or generate")
    for name in ("max_new_tokens", "max_think_tokens"):
        if getattr(opts, name) is not None and getattr(opts, name) <= 0:
            raise UserError(f"--{name.replace('_', '-')} must be positive (got {getattr(opts, name)})")
    if opts.num_fewshot < 0:
        raise UserError(f"--num-fewshot must be 0 or more (got {opts.num_fewshot})")
    given = [name for name, default in (("chat_template", "auto"), ("system_prompt", None), ("max_new_tokens", None),
                                        ("max_think_tokens", None), ("enable_thinking", None))
             if getattr(opts, name) != default]
    if opts.mode != "generate" and given:
        raise UserError(", ".join(f"--{n.replace('_', '-')}" for n in given) + ": only with --mode generate")


def fewshot_split(task: Task, docs: list[dict], opts: RunOptions) -> tuple[list[dict], list[dict]]:
    """(few-shot examples, items to evaluate): a seeded held-out split; examples need gold answers."""
    if task.spec.prompt.gold is None or (opts.mode != "generate" and task.hook.defines("requests")):
        raise UserError(f"--num-fewshot: task '{task.name}' has no gold answers to show as examples")
    pool, rest = fewshot.split([task.item_id(d) for d in docs], opts.num_fewshot, opts.seed)
    return [docs[i] for i in pool], [docs[i] for i in rest]


SETTINGS_KEY_LENGTH = 10


def run_settings(p: Prepared, opts: RunOptions) -> dict:
    """What a base and its variants must share to be compared item by item (all but the model): the RunOptions
    fields marked `settings` in bench/exec/options_table.py, and the task, its options, data and items."""
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
             backend: Backend | None = None) -> list[Path]:
    """Run every task for one model (with one RunOptions, or one per task); the model loads once, only if
    some run has work left."""
    per_task = opts if isinstance(opts, list) else [opts] * len(tasks)
    backend = None if backend is None else as_backend(backend)
    check_options(tasks, per_task)
    prepared = [prepare(t, o) for t, o in zip(tasks, per_task, strict=True)]  # data errors before the model loads
    context = context_length(ref)
    for o in per_task:
        if o.mode == "generate":
            generative.check_context(o.max_new_tokens, o.max_think_tokens, context)
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

            backend = make_backend(ref, model_print, o)
            route_libraries()
        generative.check_prompt(backend, p.task, p.docs, "the model's chat template" if o.chat_template == "auto"
                                else f"--chat-template {o.chat_template}")  # before the run folder is made
        if not backend.covers([r for d in p.docs for r in p.task.requests(d)]):
            backend.load()  # its errors come before any run folder is written
        out.append(_run_one(backend, ref, model_print, p, store, key, settings, o))
    return out


def make_backend(ref: ModelRef, model_print: dict, o: RunOptions) -> Backend:
    """The backend `o.backend` names, behind the request cache unless it is switched off."""
    from bench.models.engines import BackendOptions, build_backend, check_backend

    check_backend(o.backend)
    options = BackendOptions(device=o.device, dtype=o.dtype, batch_tokens=o.batch_tokens, batch_size=o.batch_size,
                             trust_remote_code=o.trust_remote_code, seed=o.seed, device_map=o.device_map,
                             tensor_parallel_size=o.tensor_parallel_size)

    def build() -> Backend:
        return build_backend(o.backend, ref, **dataclasses.asdict(options))

    if not o.request_cache:
        return build()
    from bench.models.cached_backend import CachedBackend
    from bench.models.device import pick_device, resolve_dtype
    from bench.store.request_cache import RequestCache, model_key

    device = pick_device(o.device)
    key = model_key(model_print, (o.variant or {}).get("recipe_hash"), o.backend,
                    f"{resolve_dtype(device, o.dtype)}@{device.split(':')[0]}")
    def tokenizer():
        from bench.models.loading import load_tokenizer

        return load_tokenizer(ref, o.trust_remote_code)

    return CachedBackend(build, RequestCache(key), describe_backend, tokenizer, name=o.backend)


def built_on(ref: ModelRef) -> dict | None:
    """The hardware a variant folder was built on (its CPU, vector instruction sets, device), from its
    qdbench_variant.json; None for other models."""
    from bench.compress.variants import read_provenance

    if ref.kind == "hub":
        return None
    try:
        hw = (read_provenance(ref.path) or {}).get("hardware")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return None
    return {k: hw.get(k) for k in ("cpu", "cpu_flags", "torch_cpu_capability", "device", "gpu")} \
        if isinstance(hw, dict) else None


def describe_backend(backend: Backend) -> dict:
    """The manifest's account of the engine that answered."""
    return backend.describe()


def run_key(ref: ModelRef, model_print: dict, p: Prepared, opts: RunOptions) -> str:
    """The model, task, data, items and task options, with the run options marked `run_key` in the table."""
    return digest({
        "model": model_print, "task": p.task.file_sha256(), "data": p.dataset.files, "items": digest(p.ids),
        "options": p.task.spec.options, **{name: getattr(opts, name) for name in RUN_KEY_FIELDS},
    })


def _run_one(backend: Backend, ref: ModelRef, model_print: dict, p: Prepared, store: RunStore, key: str,
             settings: dict, opts: RunOptions) -> Path:
    with store.lock():
        if store.is_complete() and store.manifest().get("run_key") == key:  # finished while we loaded the model
            verify_run(store.dir)
            return store.dir
        return _run_locked(backend, ref, model_print, p, store, key, settings, opts)


def _run_locked(backend: Backend, ref: ModelRef, model_print: dict, p: Prepared, store: RunStore, key: str,
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
            item_columns = p.task.item_columns()
            for (_, doc), rs in zip(chunk, reqs, strict=True):
                results = flat[k:k + len(rs)]
                row = {**p.task.record(doc, results), ITEM_HASH: item_hash(doc)}
                rows.append(flag_row(row, results, item_columns))
                k += len(rs)
            store.append(rows)
            bar.finish_chunk(len(chunk))
    records = store.items_in_order(p.ids)
    bad = nonfinite_mask(records, p.task.item_columns())
    if NONFINITE in records.columns:  # this run's own flags: a backend result may have been NaN before a row held it
        bad |= records[NONFINITE].fillna(False).astype(bool)
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
        "command": opts.command_line or sys.argv,
        "model": {**ref.to_dict(), "fingerprint": model_print, "about": builtin_about(ref.path) if ref.is_builtin
                  else None, "built_on": built_on(ref), "size": recorded(measure(ref.path)),
                  **describe_backend(backend)},
        "variant": opts.variant,
        "task": {"name": p.task.name, "version": p.task.spec.version, "yaml_sha256": p.task.file_sha256(),
                 "template_hash": p.task.spec.template_hash(), "options": p.task.spec.options},
        "data": {**p.dataset.provenance(), "n_items_available": len(p.dataset.docs), "n_items": len(p.ids),
                 "n_nonfinite": int(bad.sum()),
                 "limit": opts.limit, "items_sha256": digest(p.ids)},
        "settings": {"batch_tokens": opts.batch_tokens, "chunk_items": opts.chunk_items, "mode": opts.mode,
                     "num_fewshot": opts.num_fewshot, "backend": opts.backend, "batch_size": opts.batch_size,
                     "request_cache": opts.request_cache, **generative.provenance(backend, p.task)},
        "settings_key": settings_key(settings),
        "run_settings": settings,
        "seed": opts.seed,
        "libraries": libraries(),
        "hardware": hardware(describe_backend(backend)["device"]),
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
