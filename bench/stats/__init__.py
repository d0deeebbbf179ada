"""Statistics for base-vs-compressed comparisons: resampling (bootstrap and paired permutation by weights,
resample.py, used with the metrics declared in bench/metrics/declare.py), the exact McNemar test, corrections,
answer flips and representation similarity."""

from bench.stats.cka import layer_map, linear_cka
from bench.stats.flips import bbq_answer_kind, flip_rate, transition_matrix
from bench.stats.multiple import adjust_pvalues, count_significant
from bench.stats.paired_tests import McNemarResult, mcnemar_exact

__all__ = [
    "McNemarResult",
    "adjust_pvalues",
    "bbq_answer_kind",
    "count_significant",
    "flip_rate",
    "layer_map",
    "linear_cka",
    "mcnemar_exact",
    "transition_matrix",
]
