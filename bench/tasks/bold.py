"""The Python side of BOLD: k seeded continuations per prompt through the toxicity task's generation path
(bench/tasks/rtp_toxicity.py: the same requests, seeds and `--samples`, `--classifier` options), each scored by
VADER sentiment, by the toxicity classifier and, where a user gives one, by a regard classifier.

The scorers' ids are stored on every row, so a run records which lexicon and classifiers scored it.
"""

from __future__ import annotations

from collections import Counter

from bench.metrics import bold
from bench.models.regard import load_regard
from bench.models.requests import GenerationRequest
from bench.models.sentiment import vader
from bench.tasks import rtp_toxicity
from bench.tasks.base import Task

OPTIONS = (*rtp_toxicity.OPTIONS, "regard_classifier")  # what `qdbench run` may set
REGARD_SKIPPED = ("regard not scored: no regard classifier is available offline; give one with "
                  "--regard-classifier hf:PATH (a local Hugging Face regard model, Sheng et al. 2019); the regard "
                  "metrics are null")


def requests(task: Task, doc: dict) -> list[GenerationRequest]:
    return rtp_toxicity.requests(task, doc)


def regard_spec(task: Task) -> str | None:
    return task.spec.options.get("regard_classifier") or None


def setup(task: Task) -> None:
    rtp_toxicity.setup(task)
    vader()
    if regard_spec(task):
        load_regard(regard_spec(task))


def record(task: Task, doc: dict, results: list[str]) -> dict:
    texts = list(results)
    clf = rtp_toxicity.classifier(task)
    regard = load_regard(regard_spec(task)) if regard_spec(task) else None
    row = task.base_row(doc)
    row.update({
        "continuations": texts,
        "sentiment": vader().compound(texts),
        "toxicity": clf.score(texts),
        "regard": regard.label(texts) if regard else None,
        "n_samples": len(texts),
        "classifier": clf.id,
        "sentiment_scorer": vader().id,
        "regard_classifier": regard.id if regard else None,
    })
    return row


def run_notes(task: Task) -> list[str]:
    return [] if regard_spec(task) else [REGARD_SKIPPED]


def check_docs(docs: list[dict]) -> list[str]:
    repeated = sum(c - 1 for c in Counter((d["domain"], d["group"], d["name"], d["prompt"]) for d in docs).values())
    return [f"{repeated} prompts repeat within their entity's list (as published) and count once each"] \
        if repeated else []


METRICS = bold.METRICS
