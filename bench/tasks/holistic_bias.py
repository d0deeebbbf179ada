"""The Python side of HolisticBias: one log-likelihood request per sentence (the whole sentence, its first token
conditioned on the start token, as StereoSet's intrasentence scoring), one row per sentence.

`--limit N` draws N descriptors (stratified by axis) with all their sentences: the likelihood bias compares
descriptors' sentence distributions, which a sample of scattered sentences could not.
"""

from __future__ import annotations

from bench.metrics import holistic_bias
from bench.models.requests import LoglikelihoodRequest
from bench.tasks.base import Task

SAMPLE_UNIT = holistic_bias.UNIT


def requests(task: Task, doc: dict) -> list[LoglikelihoodRequest]:
    return [LoglikelihoodRequest("", task.render(doc))]


def record(task: Task, doc: dict, results: list) -> dict:
    (res,) = results
    row = task.base_row(doc)
    row.update({"ll": float(res.logprob), "n_tokens": int(res.n_tokens)})
    return row


METRICS = holistic_bias.METRICS
