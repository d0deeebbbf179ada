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
    """lm-eval's samples of the exported bbq, imported as a base and twice as a variant (the same samples, and
    a copy where the first two items choose another option), compare with bbq's declared metrics."""
    import pandas as pd

    from bench.tasks.registry import get_task

    _, samples = exported
    lines = [json.loads(line) for line in samples.read_text().splitlines()]
    for s in lines[:2]:  # the variant prefers the option after lm-eval's choice on two items
        ll = [float(r[0]) for r in s["filtered_resps"]]
        best = max(range(len(ll)), key=ll.__getitem__)
        s["filtered_resps"][(best + 1) % len(ll)][0] = str(max(ll) + 1.0)
    edited = tmp_path / "edited" / samples.name
    edited.parent.mkdir()
    edited.write_text("".join(json.dumps(s) + "\n" for s in lines))
    runs = tmp_path / "runs"
    for path, model in ((samples, "base"), (samples, "same"), (edited, "variant")):
        assert main(["import-lmeval", str(path), "--out", str(runs), "--model", model]) == 0
    base = runs / "base" / "lmeval-qdbench_bbq"
    items = pd.read_parquet(base / "items.parquet")
    assert set(items["category"]) and items["item_id"].str.contains("-").all()  # qdbench's ids and groups back
    declared = {m.name for m in get_task("bbq").declared_metrics}
    for model in ("same", "variant"):
        out = tmp_path / f"cmp-{model}"
        assert main(["compare", str(base), str(runs / model / "lmeval-qdbench_bbq"), "--out", str(out),
                     "--no-plots", "--resamples", "200"]) == 0
        (c,) = json.loads((out / "compare.json").read_text())["comparisons"]
        assert c["skipped"] is None and c["n_items"] == 6 and c["task"] == "lm-eval:qdbench_bbq"
        metrics = {m["name"]: m["overall"] for m in c["metrics"]}
        assert set(metrics) == declared
        variant = pd.read_parquet(runs / model / "lmeval-qdbench_bbq" / "items.parquet")
        want = (variant["pred"] == variant["gold"]).mean() - (items["pred"] == items["gold"]).mean()
        assert metrics["accuracy"]["delta"] == pytest.approx(want)
        if model == "same":
            assert all(m["delta"] in (0, None) for m in metrics.values())
            assert c["flips"]["overall"]["n_flipped"] == 0
        else:
            assert c["flips"]["overall"]["n_flipped"] == 2
            assert metrics["accuracy"]["discordant"]["base_only"] + metrics["accuracy"]["discordant"][
                "variant_only"] == sum((variant["pred"] == variant["gold"]) != (items["pred"] == items["gold"]))


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
