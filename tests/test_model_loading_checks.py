"""Issue 16, items 5 and 10: a model folder missing a weight (or holding one the model has no place for) is
refused at load, tied weights still load, and `compress` refuses bad base folders the way `run` does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.test_cli import cli
from tests.test_cli_errors import refused


def _edit_tensors(src: Path, dst: Path, drop: str | None = None, add: str | None = None) -> Path:
    import torch
    from safetensors.torch import load_file, save_file

    shutil.copytree(src, dst)
    tensors = load_file(dst / "model.safetensors")
    if drop:
        tensors.pop(drop)
    if add:
        tensors[add] = torch.zeros(3)
    save_file(tensors, dst / "model.safetensors", metadata={"format": "pt"})
    return dst


def test_missing_weight_is_refused_naming_it(tmp_path, tiny_model_dir):
    model = _edit_tensors(tiny_model_dir, tmp_path / "m", drop="model.layers.1.self_attn.q_proj.weight")
    result = cli("run", "--model", str(model), "--tasks", "bbq", "--limit", "4", "--out", str(tmp_path / "o"),
                 "--quiet")
    refused(result, "missing from the checkpoint", "model.layers.1.self_attn.q_proj.weight")
    assert not (tmp_path / "o").exists()


def test_unexpected_weight_is_refused_naming_it(tmp_path, tiny_model_dir):
    model = _edit_tensors(tiny_model_dir, tmp_path / "m", add="model.layers.9.extra.weight")
    refused(cli("run", "--model", str(model), "--tasks", "bbq", "--limit", "4", "--out", str(tmp_path / "o"),
                "--quiet"), "not in the model", "model.layers.9.extra.weight")


def test_tied_embeddings_absent_from_the_checkpoint_still_load(tmp_path):
    import torch
    from safetensors.torch import load_file
    from transformers import LlamaConfig, LlamaForCausalLM

    from bench.models.builtin import byte_level_tokenizer
    from bench.models.loading import load_causal_lm, resolve

    tok = byte_level_tokenizer()
    config = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=True)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(tmp_path / "tied")
    tok.save_pretrained(tmp_path / "tied")
    assert "lm_head.weight" not in load_file(tmp_path / "tied" / "model.safetensors")
    model = load_causal_lm(resolve(str(tmp_path / "tied")), dtype="float32")
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()


def _pickle_only(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    (dst / "model.safetensors").unlink()
    (dst / "pytorch_model.bin").write_bytes(b"not loaded")
    return dst


def _truncated(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    data = (dst / "model.safetensors").read_bytes()
    (dst / "model.safetensors").write_bytes(data[: len(data) // 2])
    return dst


def _config(change):
    def make(src: Path, dst: Path) -> Path:
        shutil.copytree(src, dst)
        cfg = json.loads((dst / "config.json").read_text())
        change(cfg)
        (dst / "config.json").write_text(json.dumps(cfg))
        return dst
    return make


@pytest.mark.parametrize("make, words", [
    (_pickle_only, ["safetensors"]),
    (_truncated, ["model.safetensors is truncated"]),
    (_config(lambda c: c.update(model_type="no-such-arch")), ["no-such-arch"]),
    (_config(lambda c: c.update(auto_map={"AutoModelForCausalLM": "x.Y"})), ["--trust-remote-code"]),
])
def test_compress_refuses_bad_base_folders_like_run(tmp_path, tiny_model_dir, make, words):
    model = make(tiny_model_dir, tmp_path / "base")
    for args in (("run", "--model", str(model), "--tasks", "bbq", "--limit", "4", "--out", str(tmp_path / "o"),
                  "--quiet"),
                 ("compress", "--model", str(model), "--recipe", "rtn-w8a16", "--out", str(tmp_path / "v"))):
        refused(cli(*args), *words)
    assert not (tmp_path / "v").exists() and not (tmp_path / "o").exists()
