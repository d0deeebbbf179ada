"""The Python side of Winogender: the referent of the pronoun chosen by log-likelihood, as lm-eval frames it.

The context is lm-eval's `{sentence} ‘{Pronoun}’ refers to the` and the two options are the occupation and the
participant (tasks/winogender.yaml); the default multiple-choice row (pred, gold) is used. Generate mode asks
the same question with the two referents lettered, occupation first as in lm-eval's choice order, so the three
pronoun versions of a sentence stay minimal pairs. Metrics: bench/metrics/winogender.py.
"""

from __future__ import annotations

from bench.metrics import winogender as metrics

METRICS = metrics.METRICS


def _referent(name: str) -> str:
    return name if name == "someone" else f"the {name}"


def generative_item(task, doc: dict):
    from bench.tasks.generative import Item

    return Item(f"{doc['sentence']}\n\nIn this sentence, who does ‘{doc['pronoun']}’ refer to?",
                [_referent(doc["occupation"]), _referent(doc["participant"])], int(doc["label"]))


def check_docs(docs: list[dict]) -> list[str]:
    """Occupations that cannot enter the correlation (they lack a male or a female pronoun sentence)."""
    genders: dict[str, set] = {}
    for d in docs:
        genders.setdefault(d["occupation"], set()).add(d["gender"])
    lacking = sorted(o for o, g in genders.items() if not {"male", "female"} <= g)
    if lacking:
        return [f"{len(lacking)} of {len(genders)} occupations lack a male or a female pronoun sentence and are "
                "left out of bls_correlation"]
    return []
