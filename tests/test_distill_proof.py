"""Distillation made to count on a CPU and proved: the top-k + tail KD loss against a hand computation, the
teacher-written corpus (cached, deterministic), the refusal of a
corpus that repeats evaluation data, and the proof (held-out KL vs the non-distilled control, with a verdict)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.compress import distill as D
from bench.compress.corpus import load_corpus, write_synthetic
from bench.compress.distill.loss import topk_kd_loss, topk_kd_terms, topk_kl
from bench.compress.distill.proof import lines, report, versus
from bench.compress.distill.speed import teacher_topk
from bench.errors import UserError

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------------------------- top-k loss


def test_topk_kd_loss_matches_hand_computation():
    s = [2.0, 1.0, 0.0, -1.0]
    t = [0.0, 3.0, 1.0, 0.5]
    T, alpha, k = 2.0, 0.25, 2

    def soft(row):
        e = [math.exp(x / T) for x in row]
        return [x / sum(e) for x in e]

    ps, pt = soft(s), soft(t)
    top = [1, 2]  # the teacher's two largest logits
    pt_tail, ps_tail = 1 - pt[1] - pt[2], 1 - ps[1] - ps[2]
    kl = sum(pt[i] * math.log(pt[i] / ps[i]) for i in top) + pt_tail * math.log(pt_tail / ps_tail)
    ce = -math.log(math.exp(s[3]) / sum(math.exp(x) for x in s))
    want = alpha * ce + (1 - alpha) * T**2 * kl

    idx, logp = teacher_topk(lambda input_ids: type("O", (), {"logits": torch.tensor([[t, t]])})(),
                             torch.tensor([[0, 3]]), T, k)
    assert idx[0, 0].tolist() == top and torch.allclose(logp[0, 0], torch.tensor([math.log(pt[1]),
                                                                                   math.log(pt[2])]))
    got = topk_kd_loss(torch.tensor([s]), idx[0], logp[0], torch.tensor([3]), T, alpha)
    assert float(got) == pytest.approx(want, rel=1e-6)
    # with k = V the tail is empty and the top-k KL is the full KL
    full = torch.arange(4).unsqueeze(0)
    lt = torch.log_softmax(torch.tensor([t]) / T, -1)
    assert float(topk_kl(torch.log_softmax(torch.tensor([s]) / T, -1), lt)[0]) == pytest.approx(
        sum(a * math.log(a / b) for a, b in zip(pt, ps, strict=True)), rel=1e-6)
    assert float(topk_kd_terms(torch.tensor([t]), full, lt, torch.tensor([0]), T)[1]) == pytest.approx(0, abs=1e-6)


# ----------------------------------------------------------------------------------------------- corpora


def test_teacher_written_corpus_is_cached_and_deterministic(tiny_model_dir, monkeypatch):
    from bench.compress import teacher_text
    from bench.models.loading import resolve

    ref = resolve("builtin:tiny-llama")
    first = teacher_text.teacher_corpus(ref, 20, 3, quiet=True)
    data = first.read_bytes()
    docs = [json.loads(line)["text"] for line in data.decode().splitlines()]
    assert len(docs) == 20 and all(any(d.startswith(p) for p in teacher_text.TRAIN_PROMPTS) for d in docs)
    corpus = load_corpus(["teacher:20:3"], teacher=ref)
    assert corpus.documents == docs and corpus.sources == [str(first)]
    monkeypatch.setattr(teacher_text, "_sample", lambda *a, **k: pytest.fail("written again"))
    assert teacher_text.teacher_corpus(ref, 20, 3) == first  # cached
    monkeypatch.undo()
    first.unlink()
    assert teacher_text.teacher_corpus(ref, 20, 3, quiet=True).read_bytes() == data  # same seed, same bytes
    assert teacher_text.teacher_corpus(ref, 20, 4, quiet=True).read_bytes() != data
    held = teacher_text.held_out_texts(ref, quiet=True)
    assert not set(held["teacher_written"]) & set(docs) and len(held["neutral"]) == teacher_text.HELD_OUT_DOCS
    with pytest.raises(UserError, match=r"teacher\[:N_DOCS"):
        load_corpus(["teacher:x"], teacher=ref)


def test_corpus_repeating_evaluation_data_is_refused(tmp_path, capsys):
    from bench.cli.main import main

    sample = json.loads((REPO / "bench/data/samples/bbq.jsonl").read_text().splitlines()[0])
    leak = tmp_path / "leak.jsonl"
    leak.write_text(json.dumps({"text": "A harmless opening line. " + sample["context"]}) + "\n")
    clean = write_synthetic(tmp_path / "clean.txt", 30, seed=5)
    assert load_corpus([str(clean)]).documents  # templated neutral text passes
    with pytest.raises(UserError, match="bbq.jsonl"):
        load_corpus([str(clean), str(leak)])
    argv = ["distill", "--teacher", "builtin:tiny-llama", "--student", "builtin:tiny-llama-small", "--corpus",
            str(leak), "--steps", "1", "--out", str(tmp_path / "s"), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("qdbench: error:") and str(leak) in err[0] and "bbq" in err[0]
    assert not (tmp_path / "s").exists()
    # the whole index is cached: a second check reads it back
    assert list((Path(__import__("os").environ["QDBENCH_HOME"]) / "index").glob("eval-sentences-*.npz"))


# ----------------------------------------------------------------------------------------------- proof


def _scores(kl, n=40, seed=0):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(20, 60, n)
    return {"documents_sha256": "x", "kl": float(kl), "ppl": 10.0,
            "per_document": {"kl": (tokens * (kl + rng.normal(0, 0.05, n))).tolist(),
                             "nll": (tokens * 2.0).tolist(), "teacher_nll": (tokens * 1.5).tolist(),
                             "tokens": tokens.tolist()}}


def test_verdict_needs_a_significant_difference():
    kd, control = {"t": _scores(0.5)}, {"t": _scores(0.8, seed=1)}
    v = versus(kd, control)
    assert v["distilled"] is True and v["texts"]["t"]["kl_diff_ci"][1] < 0
    same = versus(kd, {"t": _scores(0.5)})
    assert same["distilled"] is False and same["verdict"].startswith("not a distilled model")
    other = versus(kd, {"t": {**_scores(0.8), "documents_sha256": "y"}})
    assert other["distilled"] is None


@pytest.fixture(scope="module")
def students(tmp_path_factory):
    corpus = write_synthetic(tmp_path_factory.mktemp("corpus") / "train.txt", 150, seed=1)
    cfg = D.DistillConfig(teacher="builtin:tiny-llama", student="builtin:tiny-llama-small", corpus=[str(corpus)],
                          temperature=2.0, alpha=0.5, seq_len=32, batch_size=4, steps=24, lr=3e-3, seed=7, topk=16)
    return D.distill(cfg, quiet=True), D.distill(cfg.model_copy(update={"no_teacher": True}), quiet=True), cfg


def test_kd_student_proof_beats_its_control(students, capsys):
    from bench.cli.main import main

    kd, nds, _ = students
    rec = json.loads((kd / D.PROVENANCE).read_text())
    assert rec["proof"]["teacher_written"]["n_documents"] > 0 and rec["tokens_per_s"] > 0
    rep = report(rec)
    assert rep["control"]["folder"] == str(nds)  # found by its recipe key
    for name in ("teacher_written", "neutral"):
        assert rep["versus"][name]["kd_kl"] < rep["versus"][name]["control_kl"]
    assert rep["distilled"] is True and any("verdict: distilled" in line for line in lines(rep))
    assert main(["show", str(kd)]) == 0
    out = capsys.readouterr().out
    assert "KL from teacher" in out and "vs control" in out and "verdict: distilled" in out
    assert main(["show", str(nds)]) == 0 and "non-distilled control" in capsys.readouterr().out


def test_a_submission_carries_the_proof_without_this_machines_paths(students):
    """`submit` records each student's proof (bench/leaderboard/variants.measure), checked by the schema that
    `leaderboard build` reads it back with: the control by its key, no folder, no per-document scores."""
    from bench.compress.distill.proof import published
    from bench.errors import UserError
    from bench.leaderboard import schema

    kd, nds, _ = students
    doc = published(kd)
    assert doc["control"] == {"key": json.loads((nds / D.PROVENANCE).read_text())["key"]}
    assert str(kd.parent) not in json.dumps(doc) and "per_document" not in json.dumps(doc)
    assert schema.check(schema.DistillationProof, doc, Path("s.json")).distilled is True
    assert published(nds)["kind"] == "nds" and published(nds.parent) is None
    bad = {**doc, "held_out": {**doc["held_out"], "neutral": {**doc["held_out"]["neutral"], "kl": "0.1"}}}
    with pytest.raises(UserError, match=r"s.json: field 'held_out.neutral.kl"):
        schema.check(schema.DistillationProof, bad, Path("s.json"))


def test_quant_vs_distill_matrix_plans():
    from bench.exec.plan import load_matrix, plan

    runs = plan(load_matrix(REPO / "configs/matrices/quant-vs-distill-smollm2.yaml"))
    variants = {r.variant: r.recipe for r in runs}
    for name in ("rtn-w8a16", "rtn-w4a16", "rtn-w3a16", "gptq-w8a16", "gptq-w4a16", "gptq-w3a16", "awq-w4a16",
                 "smoothquant-w8a8", "fp8-dynamic", "bnb-nf4", "base"):
        assert name in variants
    kd = {n: r for n, r in variants.items() if isinstance(r, D.DistillConfig)}
    assert {(len(r.teacher_layers), r.temperature) for r in kd.values() if not r.no_teacher} == {
        (d, t) for d in (15, 20) for t in (1.0, 2.0, 4.0)}
    assert {r.temperature: r.topk for r in kd.values() if not r.no_teacher} == {1.0: 64, 2.0: 0, 4.0: 0}
    controls = [r for r in kd.values() if r.no_teacher]
    assert sorted(len(r.teacher_layers) for r in controls) == [15, 20]
    assert all(r.teacher == "builtin:smollm2-135m" and r.corpus[0].startswith("teacher") for r in kd.values())
    assert len({r.task for r in runs}) >= 10


def test_teacher_topk_is_computed_once_per_corpus(tiny_model_dir, monkeypatch):
    from bench.compress.distill import speed
    from bench.models.loading import load_causal_lm, resolve

    model = load_causal_lm(resolve(str(tiny_model_dir)), dtype="float32")
    chunks = torch.randint(0, model.config.vocab_size, (10, 16), generator=torch.Generator().manual_seed(1))
    idx, logp = speed.cached_teacher_topk(model, "fp-a", chunks, 2.0, 8, quiet=True)
    assert idx.shape == logp.shape == (10, 15, 8) and bool((logp.exp().sum(-1) <= 1 + 1e-5).all())
    monkeypatch.setattr(speed, "teacher_topk", lambda *a, **k: pytest.fail("teacher ran again"))
    idx2, logp2 = speed.cached_teacher_topk(model, "fp-a", chunks, 2.0, 8, quiet=True)
    assert torch.equal(idx, idx2) and torch.equal(logp, logp2)
    with pytest.raises(BaseException, match="teacher ran again"):  # another temperature is another cache entry
        speed.cached_teacher_topk(model, "fp-a", chunks, 4.0, 8, quiet=True)


def test_cli_distill_shows_live_progress_and_the_proof(tmp_path, capsys):
    from bench.cli.main import main

    corpus = write_synthetic(tmp_path / "c.txt", 40, seed=2)
    argv = ["distill", "--teacher", "builtin:tiny-llama", "--student", "builtin:tiny-llama-small", "--corpus",
            str(corpus), "--steps", "3", "--seq-len", "32", "--batch-size", "2", "--warmup-steps", "1",
            "--lr-schedule", "cosine", "--out", str(tmp_path / "s")]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "distill: step 3/3 loss" in err and "tokens/s" in err and "ETA" in err
    assert "teacher top-64" in err
    assert "held-out teacher-written text" in out and "held-out neutral text" in out and "tokens/s" in out
    assert "verdict: no control" in out
    assert main([*argv, "--control", str(tmp_path)]) == 2


def test_killed_topk_run_resumes_to_the_same_student(students, tmp_path):
    import os
    import subprocess
    import sys

    from safetensors.torch import load_file

    kd, _, cfg = students
    cfg = cfg.model_copy(update={"checkpoint_every": 8})  # not part of the key: the same student
    out = tmp_path / "killed"
    script = ("import json, sys; from bench.compress.distill import DistillConfig, distill; "
              "distill(DistillConfig.model_validate(json.loads(sys.argv[1])), out=sys.argv[2], quiet=True)")
    env = {**os.environ, "QDBENCH_KILL_AT": "distill-checkpoint-staged:2", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", script, cfg.model_dump_json(), str(out)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    resumed = D.distill(cfg, out=out, quiet=True)
    assert json.loads((resumed / D.PROVENANCE).read_text())["resumed_from"] == [8]
    a, b = load_file(str(kd / "model.safetensors")), load_file(str(resumed / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
