"""HANS: the MNLI prompt and answer words; neutral and contradiction both count as non-entailment."""

from bench.metrics.nli import HANS_METRICS as METRICS  # noqa: F401
