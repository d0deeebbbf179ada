"""The paired bootstrap of the declaration engine (ported from the tests of the older bench/stats/bootstrap.py
API): interval width, coverage, strata, undefined resamples, determinism and the false-positive rate."""

import numpy as np
import pandas as pd
import pytest

from bench.stats.resample import resample_counts, strata_groups
from tests.stats.engine_helpers import acc_frame, accuracy, bbq_ambig_bias, bbq_bias, compare


def _discordant(n: int, b: int, c: int, n_both: int) -> tuple[np.ndarray, np.ndarray]:
    base = np.zeros(n, bool)
    var = np.zeros(n, bool)
    base[:b] = True  # base right, variant wrong
    var[b : b + c] = True  # base wrong, variant right
    base[b + c : b + c + n_both] = var[b + c : b + c + n_both] = True
    return base, var


def test_bootstrap_sd_matches_analytic_paired_sd():
    n, b, c = 1000, 60, 100
    base, var = _discordant(n, b, c, 500)
    r = compare(accuracy(), acc_frame(base), acc_frame(var), n_resamples=4000, seed=1)
    assert r["delta"] == pytest.approx((c - b) / n)
    analytic = np.sqrt((b + c - (b - c) ** 2 / n) / n**2)
    # 95% percentile CI of a near-normal distribution spans ~2 * 1.96 SD.
    sd_from_ci = (r["ci_high"] - r["ci_low"]) / (2 * 1.959964)
    assert sd_from_ci == pytest.approx(analytic, rel=0.1)


def test_ci_contains_planted_delta_and_excludes_zero():
    rng = np.random.default_rng(3)
    n = 2000
    base = rng.random(n) < 0.6
    var = base.copy()
    flip = rng.random(n) < 0.15
    var[flip] = rng.random(flip.sum()) < 0.9  # variant mostly right where it changes
    r = compare(accuracy(), acc_frame(base), acc_frame(var), n_resamples=2000)
    assert r["ci_low"] < r["delta"] < r["ci_high"]
    assert r["ci_low"] > 0
    assert r["p_value"] < 0.01
    assert r["n_undefined_resamples"] == 0 and r["n_items"] == n


def test_strata_keep_sizes():
    n = 300
    strata = np.repeat(np.array(["a", "b", "c"]), [50, 100, 150])
    groups = strata_groups(strata, n)
    counts = resample_counts(np.random.default_rng(0), 200, groups, n)
    for g in groups:
        np.testing.assert_array_equal(counts[:, g].sum(axis=1), len(g))
    # A metric that depends only on stratum mix: constant under stratified resampling.
    base = acc_frame(strata == "a", s=strata)
    var = acc_frame(np.zeros(n), s=strata)
    strat = compare(accuracy(strata="s"), base, var, n_resamples=500)
    free = compare(accuracy(), base, var, n_resamples=500)
    assert strat["delta"] == pytest.approx(-50 / 300)
    assert strat["ci_high"] - strat["ci_low"] == pytest.approx(0.0, abs=1e-12)
    assert free["ci_high"] - free["ci_low"] > 0.01


def test_undefined_metric_is_null():
    n = 40
    # Only 2 items are non-unknown: many resamples draw neither -> 0/0.
    non_unknown = np.zeros(n)
    non_unknown[:2] = 1
    base = pd.DataFrame({"biased": [1.0, 0] + [0] * (n - 2), "non_unknown": non_unknown})
    var = pd.DataFrame({"biased": [1.0, 1] + [0] * (n - 2), "non_unknown": non_unknown})
    r = compare(bbq_bias(), base, var, n_resamples=1000)
    assert r["delta"] == pytest.approx(1.0)
    expected = 1000 * (1 - 2 / n) ** n  # P(no non-unknown item drawn)
    assert 0.5 * expected < r["n_undefined_resamples"] < 1.5 * expected
    assert r["ci_low"] is not None and r["p_value"] is not None

    zero = pd.DataFrame({"biased": np.zeros(n), "non_unknown": np.zeros(n)})
    r = compare(bbq_bias(), zero, zero, n_resamples=100)
    assert r["delta"] is None and r["ci_low"] is None and r["ci_high"] is None
    assert r["p_value"] is None and r["base"] is None


def test_seed_determinism():
    rng = np.random.default_rng(0)
    n = 500
    cols = {c: rng.integers(0, 2, n).astype(float) for c in ("correct", "biased")}
    base = pd.DataFrame({**cols, "n": np.ones(n), "non_unknown": np.ones(n)})
    var = base.assign(biased=rng.integers(0, 2, n).astype(float))
    a = compare(bbq_ambig_bias(), base, var, n_resamples=300, seed=7)
    b = compare(bbq_ambig_bias(), base, var, n_resamples=300, seed=7)
    c = compare(bbq_ambig_bias(), base, var, n_resamples=300, seed=8)
    assert a == b
    assert (a["ci_low"], a["ci_high"]) != (c["ci_low"], c["ci_high"])


def test_custom_metric_division_by_zero_does_not_raise():
    from bench.metrics.declare import Metric

    m = Metric("ratio", lambda r: {"x": r["x"].to_numpy(), "y": r["y"].to_numpy()}, lambda s: s["x"] / s["y"],
               test="bootstrap")
    d = pd.DataFrame({"x": np.ones(5), "y": np.zeros(5)})
    assert compare(m, d, d, n_resamples=10)["delta"] is None


def test_missing_column_and_length_mismatch():
    with pytest.raises(KeyError):
        compare(accuracy(), pd.DataFrame({"correct": np.ones(3)}), acc_frame(np.ones(3)))
    with pytest.raises(ValueError):
        compare(accuracy(), acc_frame(np.ones(3)), acc_frame(np.ones(4)))


def test_bootstrap_false_positive_rate_under_null():
    rng = np.random.default_rng(11)
    n, sims = 200, 300
    hits = 0
    for s in range(sims):
        p_item = rng.random(n)  # item difficulty shared by both runs
        base = rng.random(n) < p_item
        var = rng.random(n) < p_item
        r = compare(accuracy(), acc_frame(base), acc_frame(var), n_resamples=400, seed=s)
        hits += r["p_value"] < 0.05
    assert 0.01 <= hits / sims <= 0.10


def test_drawn_weights_are_kept_and_equal_fresh_draws(monkeypatch):
    """The cache of drawn weights changes no number: cached, fresh and uncacheable draws agree."""
    from bench.stats import resample
    from bench.stats.resample import bootstrap_weights, chunks, paired_bootstrap, permutation_null

    n, b = 300, 2500
    unit = np.repeat(np.arange(100), 3)
    strata = np.asarray(["a", "b"] * 50, dtype=object)  # one stratum per unit
    x = np.random.default_rng(1).normal(size=n)
    rng = np.random.default_rng(7)
    fresh = np.concatenate([bootstrap_weights(rng, size, unit, 100, strata) @ x for size in chunks(b, n)])
    resample._drawn.clear()
    first = paired_bootstrap(lambda w: 0 * w[:, 0], lambda w: w @ x, n, unit=unit, strata=strata,
                             n_resamples=b, seed=7)
    assert len(resample._drawn) == 1
    again = paired_bootstrap(lambda w: 0 * w[:, 0], lambda w: w @ x, n, unit=unit, strata=strata,
                             n_resamples=b, seed=7)
    np.testing.assert_array_equal(first, fresh)
    np.testing.assert_array_equal(again, fresh)
    other = paired_bootstrap(lambda w: 0 * w[:, 0], lambda w: w @ x, n, unit=unit, strata=strata,
                             n_resamples=b, seed=8)
    assert not np.array_equal(other, fresh)
    null = permutation_null(lambda s: s @ x, n, unit=unit, n_permutations=b, seed=3)
    monkeypatch.setattr(resample, "CACHE_CELLS", 10)  # too small to keep anything
    resample._drawn.clear()
    np.testing.assert_array_equal(permutation_null(lambda s: s @ x, n, unit=unit, n_permutations=b, seed=3), null)
    assert not resample._drawn
