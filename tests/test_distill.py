"""Knowledge distillation: the loss against a hand computation, and short CPU runs of the tiny teacher into the
tiny student on a corpus the tests write (KD vs the NDS control, determinism, cache, kill and resume)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from bench.compress import distill as D
from bench.compress.corpus import load_corpus, synthetic_sentences, write_synthetic
from bench.errors import UserError

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------------------------- kd_loss


def _softmax(row, t=1.0):
    e = [math.exp(x / t) for x in row]
    return [x / sum(e) for x in e]


def test_kd_loss_matches_hand_computation():
    s = [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]]
    t = [[0.0, 1.0, 0.0], [0.5, 0.0, -0.5]]
    labels = [0, 1]
    T, alpha = 2.0, 0.25
    ce = sum(-math.log(_softmax(s[i])[labels[i]]) for i in range(2)) / 2
    kl = 0.0
    for i in range(2):
        pt, ps = _softmax(t[i], T), _softmax(s[i], T)
        kl += sum(a * (math.log(a) - math.log(b)) for a, b in zip(pt, ps, strict=True))
    kl /= 2
    want = alpha * ce + (1 - alpha) * T**2 * kl
    got = D.kd_loss(torch.tensor(s), torch.tensor(t), torch.tensor(labels), T, alpha)
    assert float(got) == pytest.approx(want, rel=1e-6)
    got_ce, got_kl = D.kd_terms(torch.tensor(s), torch.tensor(t), torch.tensor(labels), T)
    assert float(got_ce) == pytest.approx(ce, rel=1e-6) and float(got_kl) == pytest.approx(kl, rel=1e-6)


def test_kd_loss_edge_cases():
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(6, 11, generator=g), torch.randn(6, 11, generator=g)
    labels = torch.tensor([1, 2, -100, 4, 5, -100])
    ce, kl = D.kd_terms(s, t, labels, 3.0)
    # alpha = 1: hard labels only, the teacher is ignored
    assert torch.equal(D.kd_loss(s, t, labels, 3.0, 1.0), ce)
    assert torch.equal(D.kd_loss(s, None, labels, 3.0, 0.3), ce)
    # alpha = 0: soft targets only, scaled by T²
    assert float(D.kd_loss(s, t, labels, 3.0, 0.0)) == pytest.approx(9 * float(kl), rel=1e-6)
    # a student equal to its teacher has zero KL at any temperature
    assert float(D.kd_terms(t, t, labels, 0.5)[1]) == pytest.approx(0.0, abs=1e-6)
    # ignored positions change nothing
    keep = labels != -100
    ce2, kl2 = D.kd_terms(s[keep], t[keep], labels[keep], 3.0)
    assert torch.allclose(ce, ce2) and torch.allclose(kl, kl2)
    # Hinton et al.: d(T²·KL)/dz_s = T·(softmax(z_s/T) − softmax(z_t/T)) per position (mean over positions)
    z = s[keep].clone().requires_grad_(True)
    D.kd_loss(z, t[keep], labels[keep], 3.0, 0.0).backward()
    want = 3.0 * (torch.softmax(s[keep] / 3, -1) - torch.softmax(t[keep] / 3, -1)) / keep.sum()
    assert torch.allclose(z.grad, want, atol=1e-6)


# ----------------------------------------------------------------------------------------------- config


@pytest.mark.parametrize("bad,field", [
    ({"alpha": 1.5}, "alpha"), ({"temperature": 0}, "temperature"), ({"steps": 0}, "steps"),
    ({"teacher_layers": [0, 1]}, "teacher_layers"), ({"no_teacher": True, "chain": ["x"]}, "chain"),
    ({"student_init": "copy"}, "student_init"), ({"epochs": 3}, "epochs"),
])
def test_config_errors_name_the_field(bad, field):
    base = {"teacher": "builtin:tiny-llama", "student": "builtin:tiny-llama-small", "corpus": "synthetic:10"}
    with pytest.raises(UserError, match=field):
        D.parse_config({**base, **bad})


def test_corpus_errors(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="not found"):
        load_corpus([str(tmp_path / "missing.txt")])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"body": "no text"}\n')
    with pytest.raises(UserError, match="line 2"):
        load_corpus([str(bad)])
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="offline"):
        load_corpus(["Salesforce/wikitext"])
    assert synthetic_sentences(5, seed=3) == synthetic_sentences(5, seed=3) != synthetic_sentences(5, seed=4)


# ----------------------------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_synthetic(tmp_path_factory.mktemp("corpus") / "train.txt", 150, seed=1)


@pytest.fixture(scope="module")
def cfg(corpus) -> D.DistillConfig:
    return D.DistillConfig(teacher="builtin:tiny-llama", student="builtin:tiny-llama-small", corpus=[str(corpus)],
                           temperature=2.0, alpha=0.5, seq_len=32, batch_size=4, steps=24, lr=3e-3,
                           checkpoint_every=8, seed=7, topk=0)


@pytest.fixture(scope="module")
def kd_dir(cfg) -> Path:
    return D.distill(cfg, quiet=True)


@pytest.fixture(scope="module")
def nds_dir(cfg) -> Path:
    return D.distill(cfg.model_copy(update={"no_teacher": True}), quiet=True)


def _weights(folder: Path) -> dict:
    return load_file(str(folder / "model.safetensors"))


def _prov(folder: Path) -> dict:
    return json.loads((folder / D.PROVENANCE).read_text())


def test_kd_loss_decreases_and_provenance(kd_dir, cfg):
    p = _prov(kd_dir)
    losses_first, losses_last = p["loss_first"], p["loss_last"]
    assert losses_last < losses_first
    assert p["kind"] == "distilled" and p["temperature"] == 2.0 and p["alpha"] == 0.5
    assert p["steps"] == 24 and p["tokens"] == 24 * 4 * 32 and p["seed"] == 7
    assert len(p["corpus"]["sha256"]) == 64 and p["corpus"]["n_tokens"] > 1000
    assert p["base"]["fingerprint"] and p["student_parameters"] == sum(t.numel() for t in _weights(kd_dir).values())
    assert p["bytes_on_disk"] > 0 and p["resumed_from"] == []
    assert kd_dir.parent.name == "variants" and kd_dir.name == f"distill-{p['key']}"
    assert not list(kd_dir.parent.glob(".*.work"))


def test_kd_student_is_closer_to_teacher_than_nds(kd_dir, nds_dir, tiny_model_dir):
    from bench.models.loading import load_causal_lm, load_tokenizer, resolve

    assert _prov(nds_dir)["kind"] == "nds" and _prov(nds_dir)["teacher"] is None
    teacher_ref = resolve(str(tiny_model_dir))
    teacher, tok = load_causal_lm(teacher_ref, dtype="float32"), load_tokenizer(teacher_ref)
    held_out = synthetic_sentences(30, seed=99)
    kl_kd = D.held_out_kl(teacher, load_causal_lm(resolve(str(kd_dir)), dtype="float32"), held_out, tok)
    kl_nds = D.held_out_kl(teacher, load_causal_lm(resolve(str(nds_dir)), dtype="float32"), held_out, tok)
    assert kl_kd < 0.5 * kl_nds


def test_same_seed_same_weights_and_cache_reuse(kd_dir, cfg, tmp_path, monkeypatch):
    again = D.distill(cfg.model_copy(update={"checkpoint_every": 100}), out=tmp_path / "again", quiet=True)
    a, b = _weights(kd_dir), _weights(again)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert _prov(again)["key"] == _prov(kd_dir)["key"]

    def boom(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr("bench.compress.distill.variant.train", boom)
    assert D.distill(cfg, quiet=True) == kd_dir
    with pytest.raises(AssertionError, match="trained again"):
        D.distill(cfg.model_copy(update={"seed": 8}), quiet=True)


def test_nds_key_ignores_temperature_and_alpha(nds_dir, cfg, monkeypatch):
    monkeypatch.setattr("bench.compress.distill.variant.train", lambda *a, **k: pytest.fail("trained again"))
    other = cfg.model_copy(update={"no_teacher": True, "temperature": 8.0, "alpha": 0.1})
    assert D.distill(other, quiet=True) == nds_dir


def test_killed_run_resumes_to_the_same_weights(kd_dir, cfg, tmp_path):
    out = tmp_path / "killed"
    script = ("import json, sys; from bench.compress.distill import DistillConfig, distill; "
              "distill(DistillConfig.model_validate(json.loads(sys.argv[1])), out=sys.argv[2], quiet=True)")
    env = {**os.environ, "QDBENCH_KILL_AT": "distill-checkpoint-staged:2", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", script, cfg.model_dump_json(), str(out)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    work = out.with_name(f".{out.name}.work")
    assert not out.exists() and [p.name for p in work.glob("ckpt-*")] == ["ckpt-00000008"]
    assert list(work.glob(".ckpt-00000016*"))  # the half-written second checkpoint was left behind

    resumed = D.distill(cfg, out=out, quiet=True)
    assert _prov(resumed)["resumed_from"] == [8]
    a, b = _weights(kd_dir), _weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)  # bit-identical on the same machine
    assert not work.exists()


def test_chain_distils_through_an_intermediate(cfg, monkeypatch):
    chained = cfg.model_copy(update={"chain": ["builtin:tiny-llama-small"], "steps": 3})
    folder = D.distill(chained, quiet=True)
    p = _prov(folder)
    assert len(p["chain"]) == 1 and p["base"]["spec"] == "builtin:tiny-llama"
    assert p["teacher"]["fingerprint"] == p["chain"][0]["fingerprint"] != p["base"]["fingerprint"]


# ----------------------------------------------------------------------------------------------- init


def test_teacher_layers_init_copies_the_right_tensors(cfg, tiny_model_dir, tmp_path):
    from bench.models.loading import load_causal_lm, resolve

    ref = resolve(str(tiny_model_dir))
    teacher = load_causal_lm(ref, dtype="float32")
    tcfg = D.read_config(ref)
    c = cfg.model_copy(update={"student": "teacher", "student_init": "teacher_layers", "teacher_layers": [0, 3]})
    student = D.build_student(c, tcfg, teacher)
    assert student.config.num_hidden_layers == 2
    t, s = teacher.state_dict(), student.state_dict()
    for name in ("model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"):
        assert torch.equal(s[name], t[name])
    assert torch.equal(s["model.layers.0.self_attn.q_proj.weight"], t["model.layers.0.self_attn.q_proj.weight"])
    assert torch.equal(s["model.layers.1.mlp.down_proj.weight"], t["model.layers.3.mlp.down_proj.weight"])
    assert not torch.equal(s["model.layers.1.mlp.down_proj.weight"], t["model.layers.1.mlp.down_proj.weight"])

    # a two-layer student config of the teacher's width takes every second layer: 0 and 2
    conf = json.loads((tiny_model_dir / "config.json").read_text())
    conf["num_hidden_layers"] = 2
    (tmp_path / "student.json").write_text(json.dumps(conf))
    c2 = cfg.model_copy(update={"student": str(tmp_path / "student.json"), "student_init": "teacher_layers"})
    s2 = D.build_student(c2, tcfg, teacher).state_dict()
    assert torch.equal(s2["model.layers.1.self_attn.o_proj.weight"], t["model.layers.2.self_attn.o_proj.weight"])

    with pytest.raises(UserError, match="hidden_size"):
        D.build_student(cfg.model_copy(update={"student_init": "teacher_layers"}), tcfg, teacher)
    conf["vocab_size"] = 100
    (tmp_path / "small_vocab.json").write_text(json.dumps(conf))
    with pytest.raises(UserError, match="vocab_size"):
        D.student_config(cfg.model_copy(update={"student": str(tmp_path / "small_vocab.json")}), tcfg)


# ----------------------------------------------------------------------------------------------- CLI


def test_cli_distill_then_run(corpus, tmp_path, capsys):
    from bench.cli.main import main

    out = tmp_path / "student"
    argv = ["distill", "--teacher", "builtin:tiny-llama", "--student", "builtin:tiny-llama-small",
            "--temperature", "4", "--alpha", "0.3", "--corpus", str(corpus), "--steps", "3", "--seq-len", "32",
            "--batch-size", "2", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert str(out) in text and "parameters" in text and "wall time" in text
    assert main(argv) == 0 and "reused" in capsys.readouterr().out
    config = tmp_path / "kd.yaml"
    config.write_text(f"teacher: builtin:tiny-llama\nstudent: builtin:tiny-llama-small\ntemperature: 4\nalpha: 0.3\n"
                      f"corpus: {corpus}\nsteps: 3\nseq_len: 32\nbatch_size: 2\n")
    assert main(["distill", "--config", str(config), "--out", str(out), "--quiet"]) == 0
    assert "reused" in capsys.readouterr().out
    assert main(["run", "--model", str(out), "--tasks", "bbq", "--out", str(tmp_path / "runs"), "--limit", "6",
                 "--quiet"]) == 0
    assert main(["distill", "--teacher", "builtin:tiny-llama", "--corpus", str(corpus)]) == 2
    assert "--student" in capsys.readouterr().err
