import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.contingency_tables import mcnemar

from bench.stats import mcnemar_exact
from tests.stats.engine_helpers import acc_frame, accuracy, bbq_bias, compare


def _from_table(n11: int, n10: int, n01: int, n00: int) -> tuple[np.ndarray, np.ndarray]:
    base = np.array([1] * n11 + [1] * n10 + [0] * n01 + [0] * n00, bool)
    var = np.array([1] * n11 + [0] * n10 + [1] * n01 + [0] * n00, bool)
    return base, var


@pytest.mark.parametrize(
    "table",
    [(10, 5, 1, 20), (30, 12, 12, 5), (0, 0, 7, 0), (50, 3, 17, 40), (5, 40, 25, 1)],
)
def test_mcnemar_matches_statsmodels(table):
    n11, n10, n01, n00 = table
    r = mcnemar_exact(*_from_table(*table))
    ref = mcnemar(np.array([[n11, n10], [n01, n00]]), exact=True)
    assert (r.b, r.c) == (n10, n01)
    assert r.statistic == ref.statistic
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-9)


def test_mcnemar_no_discordant_pairs():
    r = mcnemar_exact(*_from_table(10, 0, 0, 5))
    assert r.p_value == 1.0 and r.b == r.c == 0


def test_permutation_planted_effect():
    base, var = _from_table(300, 10, 40, 150)
    p = compare(accuracy("permutation"), acc_frame(base), acc_frame(var), n_resamples=2000)["p_value"]
    assert p < 0.01
    # Agrees with exact McNemar in spirit for accuracy.
    assert mcnemar_exact(base, var).p_value < 0.01


def test_permutation_identical_runs_give_p_one():
    base, _ = _from_table(30, 0, 0, 20)
    assert compare(accuracy("permutation"), acc_frame(base), acc_frame(base), n_resamples=200)["p_value"] == 1.0


def test_permutation_undefined_delta_is_null():
    z = pd.DataFrame({"biased": np.zeros(10), "non_unknown": np.zeros(10)})
    assert compare(bbq_bias("permutation"), z, z, n_resamples=50)["p_value"] is None


def test_permutation_deterministic_and_strata_do_not_change_the_null():
    """Per-item swaps keep every stratum's composition, so the null is the same with or without strata."""
    rng = np.random.default_rng(0)
    base, var = rng.random(100) < 0.5, rng.random(100) < 0.6
    s = np.arange(100) % 2
    a = compare(accuracy("permutation"), acc_frame(base, s=s), acc_frame(var, s=s), n_resamples=300, seed=3)
    b = compare(accuracy("permutation", strata="s"), acc_frame(base, s=s), acc_frame(var, s=s), n_resamples=300,
                seed=3)
    assert a["p_value"] == b["p_value"]


def test_permutation_false_positive_rate_under_null():
    rng = np.random.default_rng(5)
    n, sims = 60, 300
    hits = 0
    for s in range(sims):
        p_item = rng.random(n)
        base = rng.random(n) < p_item
        var = rng.random(n) < p_item
        p = compare(accuracy("permutation"), acc_frame(base), acc_frame(var), n_resamples=400, seed=s)["p_value"]
        hits += p < 0.05
    assert 0.01 <= hits / sims <= 0.10
