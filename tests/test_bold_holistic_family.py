"""BOLD and HolisticBias through the whole family path: a matrix run of a base and a quantized variant, the
paired comparison of every declared metric, a submission the leaderboard accepts and builds a site from."""

from __future__ import annotations

import json

import pytest

from bench.cli.main import main
from bench.tasks.registry import get_task

TASKS = ("bold", "holistic_bias")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_model_dir):
    pytest.importorskip("vaderSentiment")
    root = tmp_path_factory.mktemp("bold-hb")
    matrix = root / "matrix.yaml"
    matrix.write_text("name: newtasks\nfamilies: [{base: builtin:tiny-llama, variants: [rtn-w8a16]}]\n"
                      f"tasks: [{', '.join(TASKS)}]\nsample_data: true\nsamples: 2\n"
                      "classifier: builtin:tiny-detoxify\nlimit: 10\n")
    assert main(["run", str(matrix), "--out", str(root / "runs"), "--quiet"]) == 0
    return root / "runs"


def test_compare_reports_every_declared_metric(runs, tmp_path):
    out = tmp_path / "cmp"
    assert main(["compare", "--family", "tiny-llama", "--runs", str(runs), "--out", str(out), "--resamples", "100",
                 "--no-plots"]) == 0
    doc = json.loads((out / "compare.json").read_text())
    by_task = {c["task"]: c for c in doc["comparisons"]}
    assert set(by_task) == set(TASKS)
    for task in TASKS:
        c = by_task[task]
        assert c["skipped"] is None and c["variant"]["label"] == "rtn-w8a16"
        assert [m["name"] for m in c["metrics"]] == [m.name for m in get_task(task).declared_metrics]
        assert set(c["group_fields"]) == set(get_task(task).spec.group_by)


def test_the_leaderboard_accepts_the_family(runs, tmp_path, capsys):
    subs = tmp_path / "subs"
    assert main(["submit", str(runs / "tiny-llama"), "--to", str(subs), "--submitter", "ci"]) == 0
    assert "2 variants (base, rtn-w8a16) × 2 tasks" in capsys.readouterr().out
    site = tmp_path / "site"
    assert main(["leaderboard", "build", str(subs), "--out", str(site), "--resamples", "50"]) == 0
    data = json.loads((site / "data" / "leaderboard.json").read_text())
    rows = {r["variant"]: r for r in data["rows"]}
    assert set(rows["rtn-w8a16"]["tasks"]) == set(TASKS)
    assert data["tasks"]["bold"]["headline"] == "sentiment_gap"
    assert data["tasks"]["holistic_bias"]["headline"] == "likelihood_bias"
    assert "likelihood_bias" in rows["rtn-w8a16"]["tasks"]["holistic_bias"]["deltas"]
