"""A family (the tiny model, RTN int8) run on dt_stereotype and winogender by `qdbench run MATRIX`: `qdbench
compare --family` reports every declared metric of both tasks, and the leaderboard accepts the submission, its
deltas being the comparison's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli.main import main
from bench.tasks.registry import get_task

TASKS = ("dt_stereotype", "winogender")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_model_dir) -> Path:
    root = tmp_path_factory.mktemp("dtw-family")
    matrix = root / "matrix.yaml"
    matrix.write_text("name: dtw\nfamilies: [{base: builtin:tiny-llama, variants: [rtn-w8a16]}]\n"
                      f"tasks: [{', '.join(TASKS)}]\nsample_data: true\nlimit: 48\n")
    assert main(["run", str(matrix), "--out", str(root / "runs"), "--quiet"]) == 0
    return root / "runs"


def test_compare_reports_every_declared_metric(runs, tmp_path):
    out = tmp_path / "cmp"
    assert main(["compare", "--family", "tiny-llama", "--runs", str(runs), "--out", str(out), "--resamples", "100",
                 "--no-plots", "--format", "json"]) == 0
    doc = json.loads((out / "compare.json").read_text())
    by_task = {c["task"]: c for c in doc["comparisons"]}
    assert set(by_task) == set(TASKS)
    for name in TASKS:
        c = by_task[name]
        assert c["skipped"] is None and c["n_items"] == 48
        assert [m["name"] for m in c["metrics"]] == [m.name for m in get_task(name).declared_metrics]
        assert set(c["metrics"][0]["by_group"]) == set(get_task(name).spec.group_by)


def test_the_leaderboard_accepts_the_family(runs, tmp_path, capsys):
    subs = tmp_path / "subs"
    assert main(["submit", str(runs / "tiny-llama"), "--to", str(subs), "--submitter", "ci"]) == 0
    assert "2 variants (base, rtn-w8a16) × 2 tasks" in capsys.readouterr().out
    site = tmp_path / "site"
    assert main(["leaderboard", "build", str(subs), "--out", str(site), "--resamples", "100", "--seed", "1"]) == 0
    data = json.loads((site / "data" / "leaderboard.json").read_text())
    rows = {r["variant"]: r for r in data["rows"]}
    assert set(rows) == {"base", "rtn-w8a16"} and set(rows["base"]["tasks"]) == set(TASKS)
    assert data["tasks"]["dt_stereotype"]["headline"] == "agreement_index"
    assert data["tasks"]["winogender"]["headline"] == "bls_correlation"  # its paper's measure, declared `lead`
    [sub] = list((subs / "tiny-llama").iterdir())
    out = tmp_path / "cmp"
    assert main(["compare", str(sub / "runs" / "base" / "winogender"), str(sub / "runs" / "rtn-w8a16" / "winogender"),
                 "--out", str(out), "--resamples", "100", "--seed", "1", "--no-plots"]) == 0
    [cmp] = json.loads((out / "compare.json").read_text())["comparisons"]
    deltas = rows["rtn-w8a16"]["tasks"]["winogender"]["deltas"]
    for m in cmp["metrics"]:
        for key in ("delta", "ci_low", "ci_high", "p_value"):
            assert deltas[m["name"]][key] == m["overall"][key], (m["name"], key)
