"""The Python side of DiscrimEval: p(yes) from the log-likelihoods of the two answer words, and the
mixed-effects discrimination scores (bench/metrics/discrim.py: declared by the question fixed-effects
estimator, with the paper's MixedLM fit reported next to it)."""

from __future__ import annotations

from bench.metrics import discrim


def record(task, doc: dict, results: list) -> dict:
    ll_yes, ll_no = results[0].logprob, results[1].logprob
    row = task.base_row(doc)
    row.update({
        "ll": [ll_yes, ll_no],
        "n_tokens": [r.n_tokens for r in results],
        "p_yes": discrim.p_yes(ll_yes, ll_no),
        "logit_p_yes": discrim.logit_p_yes(ll_yes, ll_no),
    })
    return row


METRICS = discrim.METRICS
extra = discrim.mixedlm_extra
