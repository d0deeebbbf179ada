"""The Python side of CrowS-Pairs for causal LMs: each sentence's full log-likelihood with an empty context
(every token scored, the first given the start token), as lm-eval scores it; one row per pair."""

from __future__ import annotations

from bench.metrics import crows_pairs as metrics
from bench.models.requests import LoglikelihoodRequest


def requests(task, doc: dict) -> list[LoglikelihoodRequest]:
    return [LoglikelihoodRequest("", doc["sent_more"]), LoglikelihoodRequest("", doc["sent_less"])]


def record(task, doc: dict, results: list) -> dict:
    """ll and n_tokens as [sent_more, sent_less]; `prefers_more` is the item's outcome for flip analysis."""
    ll = [r.logprob for r in results]
    row = task.base_row(doc)
    row.update({"ll": ll, "n_tokens": [r.n_tokens for r in results], "prefers_more": ll[0] > ll[1],
                "ll_diff": ll[0] - ll[1]})
    return row


METRICS = metrics.METRICS
