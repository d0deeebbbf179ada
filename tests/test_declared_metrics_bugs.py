"""Bugs found by issue 25: the leaderboard honours a metric's declared `headline`, and a task YAML's
`metrics:` is checked strictly against the module's METRICS (the dry run hides no error)."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from bench.errors import UserError
from bench.metrics.declare import Metric, ratio


def _metric(name: str, headline: bool, lead: bool = False) -> Metric:
    return Metric(name, lambda r: {"n": np.ones(len(r))}, lambda s: ratio(s["n"], s["n"]), headline=headline,
                  lead=lead)


def test_the_leaderboard_ranks_by_a_declared_headline_metric(monkeypatch):
    from bench.leaderboard import aggregate
    from bench.tasks import registry

    task = SimpleNamespace(declared_metrics=[_metric("accuracy", False), _metric("my_bias", True)])
    monkeypatch.setattr(registry, "get_task", lambda name: task)
    assert aggregate.headline("t", ["accuracy", "my_bias"]) == "my_bias"
    task.declared_metrics = [_metric("accuracy", True), _metric("my_bias", True)]
    assert aggregate.headline("t", ["accuracy", "my_bias"]) == "accuracy"
    task.declared_metrics = [_metric("accuracy", True), _metric("my_bias", True, lead=True)]
    assert aggregate.headline("t", ["accuracy", "my_bias"]) == "my_bias"
    assert aggregate.headline("t", ["accuracy"]) == "accuracy"  # the lead was not reported


def test_every_task_leads_with_its_papers_measure():
    """The leaderboard's sort per task, from the declarations alone (no list of preferred names elsewhere)."""
    from bench.leaderboard.aggregate import headline
    from bench.tasks.registry import get_task

    expected = {"bbq": "bias_score_ambig", "stereoset": "ss", "crows_pairs": "pct_stereotype",
                "rtp_toxicity": "expected_max_toxicity", "adult_fairness": "demographic_parity_difference",
                "dt_stereotype": "agreement_index", "bold": "sentiment_gap", "holistic_bias": "likelihood_bias",
                "winogender": "bls_correlation"}
    for task, lead in expected.items():
        assert headline(task, [m.name for m in get_task(task).declared_metrics]) == lead, task


def test_a_yaml_metric_the_module_does_not_declare_is_refused():
    from bench.data import store
    from bench.tasks.dryrun import check_task
    from bench.tasks.registry import get_task

    bbq = get_task("bbq")
    docs = store.load(bbq.spec, sample=True).docs
    check_task(bbq, docs)
    wrong = dataclasses.replace(bbq, spec=bbq.spec.model_copy(update={"metrics": [*bbq.spec.metrics, "acuracy"]}))
    with pytest.raises(UserError, match="field 'metrics'.*acuracy not declared by scorer 'bbq'"):
        check_task(wrong, docs)
