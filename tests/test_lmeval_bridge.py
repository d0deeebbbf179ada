"""lm-eval both ways: a qdbench task exported for lm-eval scores the same pairs as qdbench; lm-eval's samples
import as runs that `qdbench compare` pairs; `--backend lm-eval:hf` answers qdbench's requests."""

import json
import os
from pathlib import Path

import pytest

from bench.cli.main import main

lm_eval = pytest.importorskip("lm_eval")


def run_lmeval(model_dir: Path, include: Path, out: Path) -> Path:
    """lm-eval's own evaluate and sample writer, on the exported task; returns the samples file."""
    from lm_eval import simple_evaluate
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    lm = HFLM(pretrained=str(model_dir), device="cpu", dtype="float32", batch_size=8)
    res = simple_evaluate(model=lm, tasks=["qdbench_bbq"], task_manager=TaskManager(include_path=str(include)),
                          log_samples=True)
    tracker = EvaluationTracker(output_path=str(out))
    tracker.save_results_aggregated(results=res, samples=res["samples"])
    tracker.save_results_samples(task_name="qdbench_bbq", samples=res["samples"]["qdbench_bbq"])
    return next(out.rglob("samples_qdbench_bbq_*.jsonl"))


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_model_dir):
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    root = tmp_path_factory.mktemp("lmeval")
    assert main(["tasks", "export", "--lm-eval", str(root / "tasks"), "--tasks", "bbq", "--sample-data",
                 "--limit", "6"]) == 0
    return root, run_lmeval(tiny_model_dir, root / "tasks", root / "out")


def test_exported_task_scores_what_qdbench_scores(exported, tiny_backend):
    from bench.models.requests import LoglikelihoodRequest

    _, samples = exported
    lines = [json.loads(line) for line in samples.read_text().splitlines()]
    assert len(lines) == 6
    for s in lines:
        doc = s["doc"]
        ours = tiny_backend.loglikelihood([LoglikelihoodRequest(doc["qd_context"], c) for c in doc["qd_choices"]])
        theirs = [float(r[0]) for r in s["filtered_resps"]]
        assert [r.logprob for r in ours] == pytest.approx(theirs, abs=1e-4)


def test_imported_samples_feed_compare(exported, tmp_path, capsys):
    _, samples = exported
    runs = tmp_path / "runs"
    assert main(["import-lmeval", str(samples), "--out", str(runs), "--model", "base"]) == 0
    assert main(["import-lmeval", str(samples), "--out", str(runs), "--model", "variant"]) == 0
    base, variant = runs / "base" / "lmeval-qdbench_bbq", runs / "variant" / "lmeval-qdbench_bbq"
    assert main(["compare", str(base), str(variant), "--out", str(tmp_path / "cmp"), "--no-plots",
                 "--resamples", "200"]) == 0
    doc = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    (comparison,) = doc["comparisons"]
    assert comparison["n_items"] == 6
    assert comparison["task"] == "lm-eval:qdbench_bbq"
    import pandas as pd

    items = pd.read_parquet(base / "items.parquet")
    assert set(items["category"]) and items["item_id"].str.contains("-").all()  # qdbench's ids and groups back


def test_import_refuses_what_is_not_samples(tmp_path, capsys):
    bad = tmp_path / "samples_x_2026-01-01T00-00-00.jsonl"
    bad.write_text('{"doc_id": 0, "filtered_resps": ["a generated text"]}\n')
    assert main(["import-lmeval", str(bad), "--out", str(tmp_path / "runs")]) == 2
    assert "multiple-choice" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("manifest.json"))


def test_lmeval_backend_answers_qdbench_requests(tiny_model_dir, tiny_backend):
    from bench.models.lmeval_backend import LMEvalBackend
    from bench.models.loading import resolve
    from bench.models.requests import LoglikelihoodRequest as R

    reqs = [R("The cat sat on the", " mat"), R("Question: who?\nAnswer:", " The grandfather")]
    lm = LMEvalBackend("hf", resolve("builtin:tiny-llama"), device="cpu", dtype="float32")
    got, want = lm.loglikelihood(reqs), tiny_backend.loglikelihood(reqs)
    assert [g.logprob for g in got] == pytest.approx([w.logprob for w in want], abs=1e-4)
