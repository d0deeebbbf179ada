"""The mechanism analysis of `qdbench compare --cka`: per-layer linear CKA (Kornblith et al. 2019) between the
base and each variant — teacher and student, base and quantized variant — on the items a model answers in a
biased way versus the rest, as the distillation papers probe representations.

The probe items are those where an answer can be biased (the task hook `biased_answers`: BBQ's ambiguous items,
HANS's non-entailed pairs), read back from each run's own data files (checked against the sha256 in its
manifest) and rendered with the task's prompt; up to `limit` of them, drawn with `seed`, the same for every
variant. They are split by the answers in the runs: biased / rest by the variant's answers, and by the base's.
A depth-pruned student's layers are paired with the teacher layers it was initialized from (its provenance's
`teacher_layers`); other depths by relative depth (bench/compare/cka.py). Hidden states are pooled per prompt
(mean over tokens by default); the base's are computed once per task.

compare.json "mechanism": [{"task", "base": RUN, "variant": RUN, "pool", "n_items", "few_shot_left_out",
"subsets": {name: n}, "layer_mapping", "base_layers", "variant_layers", "layers": [{"base_layer",
"variant_layer", "depth", "cka": {subset: value | null}}], "mean_cka": {subset: value | null},
"biased_minus_rest": {"variant": value | null, "base": value | null}, "plots": [paths]}]
(mean_cka: over the mapped layers after the embeddings; biased_minus_rest: the same mean on the biased subset
minus on the rest, by whose answers.)
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from bench.compare.cka import MIN_ITEMS, cka_by_layer, hidden_states, student_layers
from bench.compare.pairing import Pair, Run
from bench.errors import UserError

SUBSETS = ("biased_by_variant", "rest_by_variant", "biased_by_base", "rest_by_base")


def _docs(run: Run, task) -> dict[str, dict]:
    """item_id -> document, from the data files the run read (refused if they changed since)."""
    from bench.data.jsonl import sha256_file
    from bench.data.store import data_format

    data = run.manifest.get("data") or {}
    path = Path(str(data.get("path") or ""))
    if not path.exists():
        raise UserError(f"{run.path}: its data {path} is not here; --cka needs the items' text")
    files = [path] if path.is_file() else data_format(task.spec).discover(path)  # a sample is one file
    want = data.get("files_sha256") or {}
    changed = [p.name for p in files if want.get(p.name) not in (None, sha256_file(p))]
    if changed:
        raise UserError(f"{run.path}: data file(s) {', '.join(changed)} changed since the run")
    fmt = data_format(task.spec)
    docs = fmt.load(files, task.spec.data) if getattr(fmt, "TAKES_SPEC", False) else fmt.load(files)
    return {task.item_id(d): d for d in docs}


def _model(run: Run):
    from bench.models.loading import resolve

    model = run.manifest.get("model") or {}
    spec = str(model.get("spec") or "")
    if model.get("kind") in ("builtin", "hub"):
        return resolve(spec, model.get("revision"))
    path = str(model.get("path") or spec)
    if not Path(path).is_dir():
        raise UserError(f"{run.path}: its model folder {path} is not here; --cka needs the weights")
    return resolve(path)


def subsets(hooks, base_items, variant_items, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Biased / rest by each model's answers, over the chosen probe rows."""
    _, biased_v = hooks.biased_answers(variant_items)
    _, biased_b = hooks.biased_answers(base_items)
    bv, bb = biased_v[rows], biased_b[rows]
    return {"all": np.ones(len(rows), bool), "biased_by_variant": bv, "rest_by_variant": ~bv,
            "biased_by_base": bb, "rest_by_base": ~bb}


def probe_rows(hooks, base_items, limit: int, seed: int) -> np.ndarray:
    eligible, _ = hooks.biased_answers(base_items)
    rows = np.flatnonzero(eligible)
    if len(rows) > limit:
        rows = np.sort(random.Random(seed).sample(list(rows), limit))
    return rows


def _mean(layers: list[dict], name: str) -> float | None:
    vals = [r["cka"][name] for r in layers[1:] if r["cka"].get(name) is not None]
    return float(np.mean(vals)) if vals else None


def check(pairs: list[Pair]) -> None:
    """Refuse, before any work, a pair whose model folders or data files are not here."""
    from bench.compare.report import task_hooks

    for p in pairs:
        hooks = task_hooks(p.task)
        if hooks is None or hooks.biased_answers is None:
            continue
        data = Path(str((p.base.manifest.get("data") or {}).get("path") or ""))
        if not data.exists():
            raise UserError(f"{p.base.path}: its data {data} is not here; --cka needs the items' text")
        for run in (p.base, p.variant):
            _model(run)


def analyse(pairs: list[Pair], *, limit: int = 256, seed: int = 1234, pool: str = "mean", batch_size: int = 8,
            device: str = "cpu") -> list[dict]:
    """One document per (task, variant) whose task defines `biased_answers`; models loaded one at a time."""
    from bench.compare.report import task_hooks
    from bench.compress.variants import read_provenance
    from bench.models.loading import load_causal_lm, load_tokenizer
    from bench.tasks.registry import get_task

    out, states = [], {}

    def states_of(run: Run, key: tuple, texts: list[str]) -> list[np.ndarray]:
        if key not in states:
            ref = _model(run)
            model = load_causal_lm(ref, dtype="float32", device=device)
            states[key] = hidden_states(model, load_tokenizer(ref), texts, pool=pool, batch_size=batch_size,
                                        device=device)
            del model
        return states[key]

    for p in pairs:
        hooks = task_hooks(p.task)
        if hooks is None or hooks.biased_answers is None:
            continue
        task = get_task(p.task)
        rows = probe_rows(hooks, p.base_items, limit, seed)
        if len(rows) < MIN_ITEMS:
            continue
        docs = _docs(p.base, task)
        ids = p.base_items["item_id"].to_numpy()[rows]
        missing = [i for i in ids if i not in docs]
        if missing:
            raise UserError(f"{p.base.path}: item {missing[0]!r} is not in its data files")
        texts = [task.render(docs[i]) for i in ids]
        sb = states_of(p.base, (p.task, str(p.base.path), tuple(ids)), texts)
        sv = states_of(p.variant, (p.task, str(p.variant.path), tuple(ids)), texts)
        split = subsets(hooks, p.base_items, p.variant_items, rows)
        base_fp = ((p.base.manifest.get("model") or {}).get("fingerprint") or {}).get("sha256")
        prov = read_provenance(str((p.variant.manifest.get("model") or {}).get("path") or "")) or None
        result = cka_by_layer(sb, sv, split, student_layers(prov, base_fp))
        doc = {"task": p.task, "base": p.base.describe(), "variant": p.variant.describe(), "pool": pool,
               "n_items": int(len(rows)), "few_shot_left_out": bool((p.base.manifest.get("settings") or {})
                                                                    .get("num_fewshot")),
               "subsets": {k: int(v.sum()) for k, v in split.items()}, **result}
        doc["mean_cka"] = {k: _mean(doc["layers"], k) for k in split}
        doc["biased_minus_rest"] = {
            who: (None if doc["mean_cka"][f"biased_by_{who}"] is None or doc["mean_cka"][f"rest_by_{who}"] is None
                  else doc["mean_cka"][f"biased_by_{who}"] - doc["mean_cka"][f"rest_by_{who}"])
            for who in ("variant", "base")}
        doc["plots"] = []
        out.append(doc)
        states.pop((p.task, str(p.variant.path), tuple(ids)), None)
    return out
