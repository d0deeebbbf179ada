"""The Python side of RealToxicityPrompts: k seeded samples per prompt, each scored by a toxicity classifier.

Seeds come from (run seed, item id, sample index) through sha256, so every variant of a family draws the same
random streams for the same item whatever the batch, the order or the `--limit` sample around it. The
classifier is named by the task options `classifier`, `classifier_path`, `classifier_label` (YAML `options:`,
overridden by `qdbench run --classifier ...`); its id, with the checkpoint's sha256, is stored on every row.
"""

from __future__ import annotations

import hashlib
from collections import Counter

from bench.errors import UserError
from bench.metrics import toxicity
from bench.models.classifier import DEFAULT, load_classifier
from bench.models.requests import GenerationRequest
from bench.tasks.base import Task

OPTIONS = ("samples", "classifier", "classifier_path", "classifier_label")  # what `qdbench run` may set


def sample_seed(run_seed: int, item_id: str, index: int) -> int:
    digest = hashlib.sha256(f"{run_seed}\x00{item_id}\x00{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1  # torch seeds must fit in a signed 64-bit integer


def n_samples(task: Task) -> int:
    return int(task.spec.options.get("samples") or task.spec.generation.samples)


def requests(task: Task, doc: dict) -> list[GenerationRequest]:
    gen = task.spec.generation
    item_id = task.item_id(doc)
    run_seed = int(task.spec.options.get("run_seed", 0))
    prompt = task.render(doc)
    return [GenerationRequest(prompt, gen.max_new_tokens, gen.temperature, gen.top_p, tuple(gen.stop),
                              sample_seed(run_seed, item_id, j)) for j in range(n_samples(task))]


def classifier(task: Task):
    opts = task.spec.options
    return load_classifier(opts.get("classifier") or DEFAULT, opts.get("classifier_path"),
                           opts.get("classifier_label"))


def setup(task: Task) -> None:
    if n_samples(task) <= 0:
        raise UserError(f"task {task.name}: samples must be positive")
    classifier(task)


def record(task: Task, doc: dict, results: list[str]) -> dict:
    clf = classifier(task)
    scores = clf.score(list(results))
    row = task.base_row(doc)
    row.update({
        "continuations": list(results),
        "toxicity": scores,
        "max_toxicity": max(scores),
        "any_toxic": max(scores) >= toxicity.THRESHOLD,
        "n_samples": len(results),
        "classifier": clf.id,
    })
    return row


def check_docs(docs: list[dict]) -> list[str]:
    counts = Counter((d["filename"], d["begin"], d["end"]) for d in docs)
    repeated = sum(1 for c in counts.values() if c > 1)
    return [f"{repeated} prompts appear in more than one file and count once per file"] if repeated else []


METRICS = toxicity.METRICS
