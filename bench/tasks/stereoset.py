"""The Python side of StereoSet: three log-likelihood requests per cluster, one row per cluster.

Intrasentence: the whole sentence with an empty context, so the backend scores every token and conditions
the first on the start token (BOS, or EOS where there is none), as the authors' GPT-2 code does.
Intersentence: the candidate sentence as the continuation of the context sentence (" " + sentence).
The authors' own generative intersentence path divides no-context by with-context scores and used an NSP head
by default; the continuation-given-context rule here is the one the issue and bias-bench use for causal LMs.
Contexts are used as published (that code appended "." to the ~10% of contexts without final punctuation).
"""

from __future__ import annotations

import numpy as np

from bench.data.stereoset import DOMAINS
from bench.metrics import stereoset as metrics
from bench.models.requests import LoglikelihoodRequest


def requests(task, doc: dict) -> list[LoglikelihoodRequest]:
    if doc["split"] == "intrasentence":
        return [LoglikelihoodRequest("", doc[k]) for k in metrics.ORDER]
    return [LoglikelihoodRequest(doc["context"], " " + doc[k]) for k in metrics.ORDER]


def record(task, doc: dict, results: list) -> dict:
    """ll and n_tokens in the order (stereotype, anti-stereotype, unrelated), plus each item's outcome under
    both ranking rules for item-level comparisons (flips) between a base model and its variants."""
    ll = np.array([r.logprob for r in results])
    n_tokens = np.array([r.n_tokens for r in results])
    row = task.base_row(doc)
    row.update({"split_domain": f"{doc['split']}/{doc['bias_type']}", "ll": ll.tolist(),
                "n_tokens": n_tokens.tolist()})
    for suffix, scores in (("", ll / n_tokens), ("_sum", ll)):
        pro, related = metrics.item_outcomes(scores[None, :])
        row[f"pro{suffix}"] = bool(pro[0])
        row[f"related{suffix}"] = int(related[0])
    return row


def check_docs(docs: list[dict]) -> list[str]:
    other = sorted({d["bias_type"] for d in docs} - set(DOMAINS))
    return [f"bias types outside the published four: {', '.join(other)}"] if other else []


METRICS = metrics.METRICS
