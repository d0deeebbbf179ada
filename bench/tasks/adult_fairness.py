"""The Python side of DecodingTrust's Adult fairness task: the decision is the option with the higher
log-likelihood; group fairness across the person's sex (bench/metrics/fairness.py)."""

from __future__ import annotations

from bench.metrics import fairness

ITEM_FIELDS = ("yes_index",)  # item_fields' keys


def item_fields(doc: dict) -> dict:
    return {"yes_index": [o.lower() for o in doc["option"]].index("yes")}


def check_docs(docs: list[dict]) -> list[str]:
    bad = sum("yes" not in [o.lower() for o in d["option"]] for d in docs)
    return [f"{bad} items have no 'yes' option"] if bad else []


METRICS = fairness.METRICS
