"""MNLI: three-way accuracy from the log-likelihood of each answer word (bench/metrics/nli.py)."""

from bench.metrics.nli import MNLI_METRICS as METRICS  # noqa: F401
