"""`qdbench run MATRIX --executor ray`: the same runs as the local executor, item for item; a worker killed
mid-job is retried and every item ends up exactly once; a failed job's error is printed at the end."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

MATRIX = "name: m\nfamilies: [{base: builtin:tiny-llama, variants: [rtn-w8a16]}]\ntasks: [bbq, crows_pairs]\nlimit: 6\n"


@pytest.fixture(scope="session")
def ray_cluster(qdbench_home):
    """One local Ray cluster (2 CPUs) for the whole session: starting one costs seconds and about 1 GB."""
    ray = pytest.importorskip("ray")
    import logging
    import os

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
             object_store_memory=200 * 2**20)
    yield ray
    ray.shutdown()


def _runs(out: Path) -> dict[str, Path]:
    return {str(p.parent.relative_to(out)): p.parent for p in sorted(out.rglob("manifest.json"))}


def test_jobs_build_each_model_once_before_its_evaluations():
    from bench.compress.recipes import load_recipe
    from bench.exec.plan import PlannedRun
    from bench.exec.ray_executor import jobs

    rtn = load_recipe("rtn-w8a16")
    plan = [PlannedRun("f", "builtin:tiny-llama", None, v, r, t)
            for v, r in (("base", None), ("rtn-w8a16", rtn)) for t in ("bbq", "crows_pairs")]
    js = jobs(plan)
    assert [(j.id, j.kind, j.needs) for j in js] == [
        ("f/base", "model", None), ("f/base/bbq", "evaluate", "f/base"), ("f/base/crows_pairs", "evaluate", "f/base"),
        ("f/rtn-w8a16", "model", "f/base"), ("f/rtn-w8a16/bbq", "evaluate", "f/rtn-w8a16"),
        ("f/rtn-w8a16/crows_pairs", "evaluate", "f/rtn-w8a16")]


def test_ray_executor_equals_the_local_executor_item_for_item(tmp_path, ray_cluster, tiny_model_dir, capsys):
    pytest.importorskip("llmcompressor")
    from bench.cli.main import main

    matrix = tmp_path / "m.yaml"
    matrix.write_text(MATRIX)
    assert main(["run", str(matrix), "--out", str(tmp_path / "ray"), "--executor", "ray"]) == 0
    captured = capsys.readouterr()
    assert "0 pending · 0 running · 6 done · 0 failed (of 6 jobs)" in captured.err
    assert main(["run", str(matrix), "--out", str(tmp_path / "local"), "--quiet"]) == 0
    ray_runs, local_runs = _runs(tmp_path / "ray"), _runs(tmp_path / "local")
    assert sorted(ray_runs) == sorted(local_runs)  # the same folders, settings keys included
    assert sorted(name.rsplit("/", 1)[0] for name in ray_runs) == [
        f"tiny-llama/{v}/{t}" for v in ("base", "rtn-w8a16") for t in ("bbq", "crows_pairs")]
    for name, d in ray_runs.items():
        pd.testing.assert_frame_equal(pd.read_parquet(d / "items.parquet"),
                                      pd.read_parquet(local_runs[name] / "items.parquet"))
        assert json.loads((d / "metrics.json").read_text()) == json.loads(
            (local_runs[name] / "metrics.json").read_text())
        ray_manifest, local_manifest = (json.loads((x / "manifest.json").read_text()) for x in (d, local_runs[name]))
        assert ray_manifest["run_key"] == local_manifest["run_key"]
        # one definition of the model's parameters (as defined, not as packed), and the qdbench command recorded
        assert ray_manifest["model"]["parameters"] == local_manifest["model"]["parameters"] == 2_494_208
        assert ray_manifest["command"] == ["qdbench", "run", str(matrix), "--out", str(tmp_path / "ray"),
                                           "--executor", "ray"]
    # a second run finds every job done and redoes nothing
    before = {name: (d / "manifest.json").read_bytes() for name, d in ray_runs.items()}
    assert main(["run", str(matrix), "--out", str(tmp_path / "ray"), "--executor", "ray", "--quiet"]) == 0
    assert {name: (d / "manifest.json").read_bytes() for name, d in ray_runs.items()} == before


def test_a_worker_killed_mid_job_is_retried_and_every_item_is_there_once(tmp_path, ray_cluster, tiny_model_dir,
                                                                         monkeypatch):
    from dataclasses import replace

    from bench.cli.matrix import per_task_options
    from bench.exec.plan import load_matrix
    from bench.exec.ray_executor import run_matrix_on_ray

    matrix = tmp_path / "m.yaml"
    matrix.write_text("name: m\nfamilies: [{base: builtin:tiny-llama}]\ntasks: [bbq]\nlimit: 8\n")
    per_task = per_task_options(load_matrix(matrix), "m", {"out": tmp_path / "ray", "data_dir": None},
                                {"chunk_items": 2, "quiet": True})
    once = tmp_path / "killed"
    monkeypatch.setenv("QDBENCH_KILL_AT", "part-done:2")  # the worker SIGKILLs itself after its second part
    monkeypatch.setenv("QDBENCH_KILL_ONCE", str(once))
    outcome = run_matrix_on_ray(load_matrix(matrix), per_task, retries=2)
    monkeypatch.delenv("QDBENCH_KILL_AT")
    assert once.exists(), "the fault hook never fired"
    assert not outcome.failed and outcome.retried == {"tiny-llama/base/bbq": 1}
    (run,) = [m.parent for m in (tmp_path / "ray" / "tiny-llama" / "base" / "bbq").rglob("manifest.json")]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["timings"]["items_resumed"] == 4  # the retry resumed from the two parts written before
    items = pd.read_parquet(run / "items.parquet")
    assert len(items) == 8 and items["item_id"].is_unique

    from bench.exec.family import run_matrix

    local = run_matrix(load_matrix(matrix), {t: replace(o, out=tmp_path / "local") for t, o in per_task.items()})
    pd.testing.assert_frame_equal(items, pd.read_parquet(local[0].run_dirs["bbq"] / "items.parquet"))


def test_a_failed_job_and_those_that_need_it_are_reported_at_the_end(tmp_path, ray_cluster, capsys):
    from bench.cli.main import main

    matrix = tmp_path / "m.yaml"
    matrix.write_text(f"name: m\nfamilies: [{{base: {tmp_path / 'no-such-model'}}}]\ntasks: [bbq]\nlimit: 2\n")
    assert main(["run", str(matrix), "--out", str(tmp_path / "runs"), "--executor", "ray", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "ray: job no-such-model/base failed after 1 attempt(s):" in err and "no-such-model" in err
    assert "ray: job no-such-model/base/bbq failed" in err and "needs no-such-model/base, which failed" in err
    assert err.strip().splitlines()[-1] == "qdbench: error: 2 job(s) of matrix 'm' failed (see above)"
    assert not (tmp_path / "runs" / "no-such-model").exists()


def test_executor_flags_are_checked(tmp_path, capsys):
    from bench.cli.main import main

    assert main(["run", "--model", "builtin:tiny-llama", "--tasks", "bbq", "--executor", "ray"]) == 2
    assert "run matrix files" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["run", "x.yaml", "--executor", "dask"])
    assert e.value.code == 2 and "invalid choice: 'dask'" in capsys.readouterr().err
