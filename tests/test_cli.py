"""End to end through the command line: runs, resume after kill -9, show, data import, and user errors."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import shared_data, the_run


def qdbench(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "bench.cli.main", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=600)


def cli(*args: str) -> subprocess.CompletedProcess:
    """The CLI in this process (no interpreter start-up): same exit code and output as the command."""
    from bench.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as e:
            code = e.code
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def run_bbq(out: Path, *extra: str) -> subprocess.CompletedProcess:
    return cli("run", "--model", "builtin:tiny-llama", "--tasks", "bbq", "--out", str(out), "--quiet", *extra)


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory, tiny_model_dir) -> Path:
    out = tmp_path_factory.mktemp("ref")
    result = qdbench("run", "--model", "builtin:tiny-llama", "--tasks", "bbq", "--out", str(out), "--quiet",
                     "--limit", "24")
    assert result.returncode == 0, result.stderr
    return the_run(out / "tiny-llama" / "bbq")


def test_run_writes_the_three_files(reference_run):
    manifest = json.loads((reference_run / "manifest.json").read_text())
    metrics = json.loads((reference_run / "metrics.json").read_text())
    items = pd.read_parquet(reference_run / "items.parquet")
    assert not (reference_run / ".work").exists()
    for key in ("model", "task", "data", "libraries", "hardware", "seed", "timings", "run_key"):
        assert key in manifest
    assert manifest["task"]["template_hash"] and manifest["data"]["files_sha256"]
    assert manifest["model"]["fingerprint"]["sha256"]
    assert set(metrics["metrics"]) >= {"accuracy", "accuracy_ambig", "accuracy_disambig", "bias_score_ambig",
                                       "bias_score_disambig"}
    assert set(metrics["by_group"]["category"]) == set(items["category"])
    assert len(items) == 24 and items["item_id"].is_unique
    for col in ("category", "example_id", "context_condition", "question_polarity", "ll", "pred", "gold"):
        assert col in items.columns
    assert all(len(x) == 3 for x in items["ll"])


@pytest.mark.parametrize("kill_at", ["part-written:2", "part-done:1", "part-done:2"])
def test_resume_after_kill_matches_uninterrupted(tmp_path, reference_run, kill_at):
    env = {"QDBENCH_KILL_AT": kill_at}
    killed = qdbench("run", "--model", "builtin:tiny-llama", "--tasks", "bbq", "--out", str(tmp_path),
                     "--limit", "24", "--chunk-items", "8", "--quiet", env=env)
    assert killed.returncode == -signal.SIGKILL
    run_dir = the_run(tmp_path / "tiny-llama" / "bbq")
    assert not (run_dir / "manifest.json").exists()
    resumed = qdbench("run", "--model", "builtin:tiny-llama", "--tasks", "bbq", "--out", str(tmp_path),
                      "--limit", "24", "--chunk-items", "8", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    items = pd.read_parquet(run_dir / "items.parquet")
    ref = pd.read_parquet(reference_run / "items.parquet")
    assert items["item_id"].tolist() == ref["item_id"].tolist()
    pd.testing.assert_frame_equal(items.drop(columns=["ll"]), ref.drop(columns=["ll"]))
    assert np.allclose(np.stack(items["ll"]), np.stack(ref["ll"]), atol=1e-5)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics == json.loads((reference_run / "metrics.json").read_text())
    assert json.loads((run_dir / "manifest.json").read_text())["timings"]["items_resumed"] > 0 or \
        kill_at == "part-written:2"


def test_rerun_of_a_finished_run_does_nothing(reference_run):
    before = (reference_run / "items.parquet").stat().st_mtime_ns
    again = cli("run", "--model", "builtin:tiny-llama", "--tasks", "bbq", "--limit", "24",
                    "--out", str(reference_run.parents[2]))
    assert again.returncode == 0
    assert "already complete" in again.stderr
    assert (reference_run / "items.parquet").stat().st_mtime_ns == before


def test_show_prints_the_summary(reference_run):
    shown = cli("show", str(reference_run))
    assert shown.returncode == 0, shown.stderr
    for word in ("accuracy_ambig", "bias_score_disambig", "category=Age", "meaningless"):
        assert word in shown.stdout


def test_tasks_list():
    listed = cli("tasks", "list")
    assert listed.returncode == 0 and "bbq" in listed.stdout and "bias_score_ambig" in listed.stdout


def assert_user_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("qdbench: error:")
    for w in words:
        assert w in result.stderr


def test_unknown_task(tmp_path):
    result = cli("run", "--model", "builtin:tiny-llama", "--tasks", "nope", "--out", str(tmp_path))
    assert_user_error(result, "unknown task 'nope'")
    assert not any(tmp_path.iterdir())


def test_bad_model_path(tmp_path):
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    result = cli("run", "--model", str(empty), "--tasks", "bbq", "--out", str(tmp_path / "runs"))
    assert_user_error(result, "not a Hugging Face model folder")
    missing = cli("run", "--model", "./no/such/dir", "--tasks", "bbq", "--out", str(tmp_path / "runs"))
    assert_user_error(missing, "not found")
    assert not (tmp_path / "runs").exists()


def test_unreadable_weights(tmp_path, tiny_model_dir):
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in tiny_model_dir.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    result = cli("run", "--model", str(broken), "--tasks", "bbq", "--out", str(tmp_path / "runs"))
    assert_user_error(result, "cannot load model")
    assert not (tmp_path / "runs").exists()


def test_bad_config_values(tmp_path):
    assert_user_error(run_bbq(tmp_path, "--limit", "0"), "--limit")
    assert_user_error(run_bbq(tmp_path, "--dtype", "float8"), "dtype")
    assert not any(tmp_path.iterdir())


def test_missing_and_malformed_data(tmp_path):
    assert_user_error(run_bbq(tmp_path / "runs", "--data-dir", str(tmp_path / "nowhere")), "no such folder")
    bad = tmp_path / "bbq" / "data"
    bad.mkdir(parents=True)
    (bad / "Age.jsonl").write_text('{"example_id": 0, "category": "Age"}\n')
    assert_user_error(run_bbq(tmp_path / "runs", "--data-dir", str(bad.parent)), "Age.jsonl line 1", "field")
    (bad / "Age.jsonl").write_text("{not json\n")
    assert_user_error(cli("data", "import", "bbq", str(bad.parent)), "line 1", "not valid JSON")
    assert not (tmp_path / "runs").exists()


def test_bad_task_file(tmp_path):
    (tmp_path / "broken.yaml").write_text("name: broken\nrequest: multiple_choice\n")
    result = qdbench("tasks", "list", env={"QDBENCH_TASKS": str(tmp_path)})
    assert_user_error(result, "broken.yaml", "field")


def test_import_real_bbq_and_run(tmp_path):
    root = shared_data("bbq")
    home = tmp_path / "home"
    env = {"QDBENCH_HOME": str(home)}
    imported = qdbench("data", "import", "bbq", str(root), env=env)
    assert imported.returncode == 0, imported.stderr
    assert "7 of 11 categories" in imported.stdout and "not found: Race_ethnicity" in imported.stdout
    run = qdbench("run", "--model", "builtin:tiny-llama", "--tasks", "bbq", "--limit", "30", "--quiet",
                  "--out", str(tmp_path / "runs"), env=env)
    assert run.returncode == 0, run.stderr
    run_dir = the_run(tmp_path / "runs" / "tiny-llama" / "bbq")
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["data"]["origin"] == "imported" and manifest["data"]["n_items_available"] == 14103
    items = pd.read_parquet(run_dir / "items.parquet")
    assert items["category"].nunique() == 7  # stratified, so every category is drawn


def test_demo_runs_base_and_two_quantized_variants_on_the_same_items(tmp_path):
    result = cli("demo", "--quick", "--out", str(tmp_path), "--resamples", "200")
    assert result.returncode == 0, result.stderr
    assert "MEANINGLESS" in result.stdout
    ids = {}
    for variant in ("base", "gptq-w4a16", "rtn-w8a16"):
        run_dir = the_run(tmp_path / "tiny-llama" / variant / "bbq")
        assert variant in result.stdout
        manifest = json.loads((run_dir / "manifest.json").read_text())
        assert manifest["variant"]["name"] == variant and manifest["variant"]["family"] == "tiny-llama"
        assert manifest["data"]["origin"] == "sample"
        ids[variant] = pd.read_parquet(run_dir / "items.parquet")["item_id"].tolist()
    assert ids["base"] == ids["gptq-w4a16"] == ids["rtn-w8a16"]
    assert "answer flips" in result.stdout and "significantly affected category" in result.stdout
    doc = json.loads((tmp_path / "compare" / "tiny-llama" / "compare.json").read_text())
    assert [c["variant"]["label"] for c in doc["comparisons"]] == ["gptq-w4a16", "rtn-w8a16"]
    for c in doc["comparisons"]:
        assert c["variant"]["label"] + ": " in result.stdout  # one verdict line per variant
