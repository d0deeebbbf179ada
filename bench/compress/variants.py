"""materialize(base, recipe) -> ModelRef: build a variant once, into a cache keyed by what determines it.

The key is a content hash of the base model's fingerprint, the recipe, the calibration text and the versions
of the libraries that do the work, so changing any of them makes a new variant and nothing stale is reused.
Each variant folder holds `qdbench_variant.json`: its provenance and its real size.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from bench.compress.peak_memory import peak_rss, reset_peak
from bench.compress.recipes import BNB, LLMCOMPRESSOR, Recipe
from bench.data.jsonl import sha256_file
from bench.errors import UserError
from bench.models.loading import (
    ModelRef,
    check_config,
    check_weight_files,
    fingerprint,
    load_causal_lm,
    load_tokenizer,
    resolve,
    weight_bytes_on_disk,
    weight_files,
)
from bench.paths import home
from bench.safepath import confined
from bench.store.atomic import clean_stale_staging, staged_dir, write_json
from bench.store.provenance import digest, hardware, libraries

SCHEMA = "qdbench.variant/1"
PROVENANCE = "qdbench_variant.json"
KEY_LIBRARIES = ("torch", "transformers", "llmcompressor", "compressed-tensors", "bitsandbytes")
BUILDER_VERSION = 2  # 2: calibrated recipes build on a CPU in float64 with portable kernels (compress/portable.py)
PREQUANTIZED_METHODS = {"gptq", "awq", "compressed-tensors"}


def read_provenance(folder: str | Path) -> dict | None:
    path = Path(folder) / PROVENANCE
    return json.loads(path.read_text()) if path.is_file() else None


def student_kind(prov: dict | None) -> str | None:
    """'distilled' or 'nds' for a student, 'distilled+gptq' (etc.) for a quantized student, else None."""
    if not prov:
        return None
    if prov.get("kind") in ("distilled", "nds"):
        return prov["kind"]
    if "recipe" in prov:
        inner = student_kind(read_provenance((prov.get("base") or {}).get("path") or ""))
        return f"{inner}+{prov['recipe']['method']}" if inner and "+" not in inner else None
    return None


def materialize(base: ModelRef, recipe: Recipe, root: Path | None = None) -> ModelRef:
    """The variant's ModelRef, building it only if the cache has no folder for these exact inputs."""
    root = Path(root) if root else home() / "variants"
    check_config(base)
    base_print = fingerprint(Path(base.path)) if base.kind != "hub" else {"hub": base.path,
                                                                         "revision": base.revision}
    base_config = _config(base)
    texts, calib = None, None
    if recipe.calibrated:
        from bench.compress.calibration import calibration_for

        recipe, texts, calib = calibration_for(recipe, base)
    pre_ref, pre_print = None, None
    if recipe.method == "prequantized":
        pre_ref = resolve(recipe.model)
        pre_print = fingerprint(Path(pre_ref.path)) if pre_ref.kind != "hub" else {"hub": pre_ref.path}
    libs = libraries()
    key = digest({"builder": BUILDER_VERSION, "base": base_print, "recipe": recipe.content(),
                  "calibration": calib and calib["sha256"],
                  "prequantized": pre_print, "libraries": {k: libs.get(k) for k in KEY_LIBRARIES}})
    folder = confined(root, base.slug, f"{recipe.name}-{key[:12]}", what=f"variant '{recipe.name}'")
    if folder.parent.is_dir():
        clean_stale_staging(folder.parent)
    if (folder / PROVENANCE).is_file():
        problem = verify_variant(folder)
        if problem is None:
            return _ref(folder, pre_ref)
        print(f"qdbench: note: cached variant {folder} is damaged ({problem}); building it again", file=sys.stderr)

    record = {"schema": SCHEMA, "cache_key": key,
              "base": {**base.to_dict(), "fingerprint": base_print},
              "recipe": recipe.model_dump(), "recipe_hash": recipe.hash(), "calibration": calib,
              "libraries": libs, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "hardware": hardware(_build_device())}
    if recipe.method in LLMCOMPRESSOR:
        from bench.compress.quantize import _import_llmcompressor

        _import_llmcompressor()  # imports take seconds; keep them out of the recipe's wall time
    t0 = time.perf_counter()
    measured = reset_peak()
    with staged_dir(folder, replace=lambda p: (p / PROVENANCE).is_file()) as tmp:
        if recipe.method in LLMCOMPRESSOR:
            from bench.compress.quantize import quantize

            record["group_sizes"] = quantize(base.path, recipe, tmp, load_tokenizer(base), texts, base.revision)
            record["format"] = "compressed-tensors"
        elif recipe.method in BNB:
            from bench.compress.bnb import load_spec

            _link_files(Path(base.path), tmp, base)
            record["format"] = "bitsandbytes-load-time"
            record["load_time_quantization"] = load_spec(recipe)
        else:
            record["format"] = "prequantized"
            record["prequantized"] = {**pre_ref.to_dict(), "fingerprint": pre_print}
            if pre_ref.kind != "hub":
                if not (_config(pre_ref) or {}).get("quantization_config"):
                    record["format"] = "published-checkpoint"  # e.g. a distilled student, loaded as it is
                _check_prequantized(Path(pre_ref.path), base_config, recipe)
                _link_files(Path(pre_ref.path), tmp, pre_ref)
        record["wall_s"] = round(time.perf_counter() - t0, 3)
        record["files"] = file_hashes(tmp)
        write_json(tmp / PROVENANCE, record)
        if pre_ref is None or pre_ref.kind != "hub":
            record.update(_measure(tmp, base))
        record["peak_rss_bytes"], record["peak_rss_note"] = peak_rss(measured, children=True)
        write_json(tmp / PROVENANCE, record)
    return _ref(folder, pre_ref)


def file_hashes(folder: Path) -> dict[str, dict]:
    """{file name: {sha256, bytes}} of a variant folder's files, its provenance file aside."""
    return {p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size} for p in sorted(folder.iterdir())
            if p.is_file() and not p.name.startswith(".") and p.name != PROVENANCE}


def verify_variant(folder: Path) -> str | None:
    """What is wrong with a cached variant folder, or None. Files are checked against the sha256 recorded when
    it was built (every byte: seconds per GB); a folder from before hashes were recorded gets the size and
    safetensors-header check only."""
    try:
        record = json.loads((folder / PROVENANCE).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return f"{PROVENANCE} is unreadable"
    if not isinstance(record, dict):
        return f"{PROVENANCE} is not a JSON object"
    if record.get("format") == "prequantized" and (record.get("prequantized") or {}).get("kind") == "hub":
        return None
    recorded = record.get("files")
    if recorded is None:
        try:
            check_weight_files(folder, str(folder))
        except UserError as e:
            return str(e)
        return None
    actual = file_hashes(folder)
    for name, want in recorded.items():
        got = actual.get(name)
        if got is None:
            return f"{name} is missing"
        if got["bytes"] != want.get("bytes"):
            return f"{name} has {got['bytes']:,} bytes, {want.get('bytes'):,} when built"
        if got["sha256"] != want.get("sha256"):
            return f"{name} differs from its sha256 when built"
    return None


def _build_device() -> str:
    """Where llm-compressor builds (its own choice: the accelerator if there is one)."""
    import torch

    return torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"


def _ref(folder: Path, pre_ref: ModelRef | None) -> ModelRef:
    if pre_ref is not None and pre_ref.kind == "hub":
        return pre_ref
    return ModelRef(str(folder), str(folder), None, "local")


def _config(ref: ModelRef) -> dict | None:
    path = Path(ref.path) / "config.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _link_files(src: Path, dst: Path, ref: ModelRef) -> None:
    """Hard-link (or copy) a model folder's files: the variant folder must load on its own."""
    if ref.kind == "hub":
        raise UserError(f"load-time variants of hub model '{ref.spec}' need a local copy; download it and pass "
                        "the folder as --model")
    for p in src.iterdir():
        if p.is_file() and not p.name.startswith(".") and p.name != PROVENANCE:
            try:
                os.link(p, dst / p.name)
            except OSError:
                shutil.copy2(p, dst / p.name)


def _check_prequantized(folder: Path, base_config: dict | None, recipe: Recipe) -> None:
    """A quantized checkpoint must have the base's architecture; a plain one (no quantization_config: a
    published distilled student, which may have its own size and tokenizer) is taken as it is."""
    cfg = json.loads((folder / "config.json").read_text())
    q = cfg.get("quantization_config")
    if not q:
        return
    if q.get("quant_method") not in PREQUANTIZED_METHODS:
        raise UserError(f"recipe '{recipe.name}': '{recipe.model}' has a quantization_config with quant_method "
                        f"{q.get('quant_method')!r}; expected one of {sorted(PREQUANTIZED_METHODS)}, or a plain "
                        "checkpoint with none")
    if base_config:
        fields = ("model_type", "hidden_size", "num_hidden_layers", "vocab_size")
        diff = [f for f in fields if cfg.get(f) != base_config.get(f)]
        if diff:
            raise UserError(f"recipe '{recipe.name}': '{recipe.model}' is not a variant of the base model "
                            f"(config differs in {', '.join(diff)})")


def _measure(folder: Path, base: ModelRef) -> dict:
    """Sizes: bytes of weight files on disk, bytes of weights once loaded (compressed-tensors kept packed: the
    size the format gives, not the floating-point copy qdbench scores with), and bits per base parameter."""
    on_disk = weight_bytes_on_disk(folder)
    t0 = time.perf_counter()
    model = load_causal_lm(ModelRef(str(folder), str(folder), None, "local"), dtype="auto", device="cpu",
                           decompress=False)
    load_s = round(time.perf_counter() - t0, 3)  # for bitsandbytes this is when the quantization happens
    in_memory = int(model.get_memory_footprint(return_buffers=True))
    del model
    params = count_parameters(Path(base.path)) if base.kind != "hub" else None
    return {"load_s": load_s, "bytes_on_disk": on_disk, "weights_bytes_in_memory": in_memory, "parameters": params,
            "bits_per_param": round(8 * in_memory / params, 3) if params else None}


def count_parameters(folder: Path) -> int:
    """Parameters of an unquantized model, read from the safetensors headers without loading a tensor."""
    total = 0
    for p in weight_files(folder):
        with p.open("rb") as f:
            header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
        for name, meta in header.items():
            if name != "__metadata__":
                n = 1
                for d in meta["shape"]:
                    n *= d
                total += n
    return total
