"""One loading path for every model: built-in (materialized to a folder), local folder, or hub id."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.errors import UserError
from bench.models import builtin
from bench.models.tokenizer_files import LOADER_SETTINGS, save_tokenizer  # noqa: F401  (used by callers)

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
FULL_HASH_LIMIT = 2 * 1024**3


@dataclass(frozen=True)
class ModelRef:
    """What to load: `path` is a local folder or a hub id, as `from_pretrained` takes it."""

    spec: str
    path: str
    revision: str | None = None
    kind: str = "local"  # builtin | local | hub
    allow_pickle: bool = False  # the user opted in to pickle weights (--allow-pickle)

    @property
    def is_builtin(self) -> bool:
        return self.kind == "builtin"

    @property
    def slug(self) -> str:
        """A folder-safe name for run directories."""
        name = self.spec.removeprefix("builtin:") if self.is_builtin else Path(self.path.rstrip("/")).name
        if self.kind == "hub":
            name = self.path.replace("/", "--")
        name = re.sub(r"\.{2,}", ".", re.sub(r"[^\w.-]+", "-", name))
        return name.strip("-").lstrip(".") or "model"

    def to_dict(self) -> dict:
        return asdict(self)


def resolve(spec: str, revision: str | None = None, allow_pickle: bool = False) -> ModelRef:
    """Turn what the user typed into a ModelRef; errors name the spec and what was expected."""
    if spec.startswith("builtin:"):
        return ModelRef(spec, str(builtin.materialize(spec.removeprefix("builtin:"))), None, "builtin")
    path = Path(spec).expanduser()
    if path.exists():
        if not path.is_dir() or not (path / "config.json").is_file():
            raise UserError(f"model path '{spec}' is not a Hugging Face model folder (expected a folder with "
                            "config.json and *.safetensors weights)")
        try:
            config = json.loads((path / "config.json").read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise UserError(f"model path '{spec}': config.json is not valid JSON ({e})") from None
        if not isinstance(config, dict):
            raise UserError(f"model path '{spec}': config.json is not a JSON object of model settings")
        check_weight_files(path, spec, allow_pickle)
        return ModelRef(spec, str(path.resolve()), revision, "local", allow_pickle)
    if spec.startswith((".", "/", "~")) or not HUB_ID.match(spec):
        raise UserError(f"model '{spec}' not found: expected builtin:NAME, an existing local folder, "
                        "or a hub id like org/name")
    return ModelRef(spec, spec, revision or "main", "hub")


CONTEXT_FIELDS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length")


def context_length(ref: ModelRef) -> int | None:
    """The longest sequence the model takes, from its config.json; None where that is not on this disk."""
    config = Path(ref.path) / "config.json"
    if ref.kind == "hub" or not config.is_file():
        return None
    try:
        values = json.loads(config.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    sizes = [values.get(k) for k in CONTEXT_FIELDS] if isinstance(values, dict) else []
    return next((v for v in sizes if isinstance(v, int) and not isinstance(v, bool) and v > 0), None)


PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


def check_weight_files(folder: Path, spec: str, allow_pickle: bool = False) -> None:
    """Weights that lie inside the folder, are safetensors (pickle only where the user opts in, with a warning,
    since unpickling a file can run code) and are whole (each file as long as its header says): checked when a
    folder is named, so `run`, `compress` and every other command refuse a bad folder the same way before any
    work."""
    _check_no_escaping_links(folder, spec)
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        pickles = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name.endswith(PICKLE_SUFFIXES))
        if pickles and allow_pickle:
            print(f"qdbench: warning: model path '{spec}': loading pickle weights ({', '.join(pickles)}) because "
                  "of --allow-pickle; unpickling an untrusted file can run code", file=sys.stderr)
            return
        raise UserError(f"cannot load model '{spec}': no *.safetensors weights" + (
            f" (found only pickle weights ({', '.join(pickles)}); qdbench loads safetensors only, since "
            "unpickling a file can run code: convert them, or pass --allow-pickle if you trust their source)"
            if pickles else ""))
    for p in files:
        size = p.stat().st_size
        try:
            with p.open("rb") as f:
                n = int.from_bytes(f.read(8), "little")
                header = json.loads(f.read(n)) if 0 < n <= size - 8 else None
            end = max((int(m["data_offsets"][1]) for k, m in header.items() if k != "__metadata__"), default=0) \
                if isinstance(header, dict) else None
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            end = None
        if end is None or 8 + n + end != size:
            raise UserError(f"cannot load model '{spec}': {p.name} is truncated or not a safetensors file "
                            f"({size:,} bytes on disk; its header does not match)")


def link_roots(folder: Path) -> list[Path]:
    """Where a model folder's symlinks may point: into the folder itself, and for a Hugging Face cache snapshot
    into its repo's blobs/ (every file of a snapshot is such a link)."""
    allowed = [folder.resolve()]
    if folder.parent.name == "snapshots":
        allowed.append((folder.parent.parent / "blobs").resolve())
    return allowed


def weight_files(folder: Path) -> list[Path]:
    """The folder's *.safetensors files, taken as the loader reads them: a hard link (a bitsandbytes variant's
    files are hard links to its base's) like any file, a symlink where its target lies in `link_roots` (a Hugging
    Face snapshot), and a symlink elsewhere not at all (the loader refuses it)."""
    roots = link_roots(folder)
    return [p for p in sorted(folder.glob("*.safetensors"))
            if p.is_file() and (not p.is_symlink() or any(p.resolve().is_relative_to(r) for r in roots))]


def weight_bytes_on_disk(folder: Path) -> int:
    """Bytes of the folder's `weight_files` (a symlink by the size of its target)."""
    return sum(p.stat().st_size for p in weight_files(folder))


def _check_no_escaping_links(folder: Path, spec: str) -> None:
    """No file of the folder is a symlink to somewhere else (a Hugging Face cache snapshot's links into its
    repo's blobs/ are its own)."""
    allowed = link_roots(folder)
    for p in sorted(folder.iterdir()):
        if p.is_symlink() and not any(p.resolve().is_relative_to(a) for a in allowed):
            raise UserError(f"model path '{spec}': {p.name} is a symlink to {p.resolve()}, outside the model "
                            "folder; copy the file into the folder if you mean to use it")


def check_config(ref: ModelRef, trust_remote_code: bool = False) -> None:
    """An architecture transformers knows, and no model code of its own unless allowed; before any loading."""
    if ref.kind == "hub":
        return
    config = json.loads((Path(ref.path) / "config.json").read_text())
    if config.get("auto_map") and not trust_remote_code:
        raise UserError(f"model '{ref.spec}': config.json has `auto_map` (the model's own Python code); pass "
                        "--trust-remote-code to allow it")
    if not trust_remote_code:
        from transformers import CONFIG_MAPPING

        if config.get("model_type") not in CONFIG_MAPPING:
            raise UserError(f"model '{ref.spec}': config.json model_type {config.get('model_type')!r} is not an "
                            "architecture this transformers version knows")


# qdbench's own records in a model folder, and the fields of each that change a model's answers (the rest is
# description: times, hosts, paths, sizes, versions).
RECORDS = {"QDBENCH_BUILTIN.json": (), "qdbench_variant.json": ("recipe_hash", "load_time_quantization")}
FINGERPRINT_METHOD = "outputs/2"


def fingerprint(folder: Path) -> dict:
    """A content hash of what decides a local model folder's outputs, so that a run names exactly the model it
    used and two machines (or caches) holding the same model agree on it.

    In: every file of the folder (weights, config.json, generation_config.json, tokenizer files, the chat
    template and any other file a loader may read), by name and bytes; above 2 GiB in all, weights by name and
    size (safetensors with their header: every tensor's name, dtype, shape and offsets) and the other files
    whole. Of qdbench's own records only what changes answers: a variant's recipe hash and load-time
    quantization (qdbench_variant.json). Out: hidden files, QDBENCH_BUILTIN.json and the rest of
    qdbench_variant.json (build times, memory, paths, sizes, library versions): two builds of the same model
    give the same fingerprint. `bytes` counts the files in."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    weights = [p for p in files if p.name not in RECORDS]
    total = sum(p.stat().st_size for p in weights)
    full = total <= FULL_HASH_LIMIT
    h = hashlib.sha256()
    for p in files:
        if p.name in RECORDS:
            fields = _record_fields(p, RECORDS[p.name])
            if fields:
                h.update(p.name.encode() + b"\0" + json.dumps(fields, sort_keys=True).encode() + b"\0")
            continue
        h.update(p.name.encode() + b"\0" + str(p.stat().st_size).encode() + b"\0")
        if full or not p.name.endswith((".safetensors", *PICKLE_SUFFIXES)):
            with p.open("rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
        elif p.suffix == ".safetensors":
            with p.open("rb") as f:  # the header names every tensor's dtype, shape and offsets
                n = int.from_bytes(f.read(8), "little")
                h.update(f.read(n))
    return {"sha256": h.hexdigest(), "method": FINGERPRINT_METHOD if full else f"{FINGERPRINT_METHOD}+headers",
            "bytes": total}


def _record_fields(path: Path, names: tuple[str, ...]) -> dict:
    """The named fields of a qdbench JSON record that are set (an unreadable record counts as empty)."""
    if not names:
        return {}
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return {k: record[k] for k in names if isinstance(record, dict) and record.get(k) is not None}


def defined_parameters(config, trust_remote_code: bool = False) -> int | None:
    """Parameters of the model as its config defines it (tied weights once), whatever form they are stored or
    loaded in: a quantized variant counts the weights it quantized, not its packed integers and scales, so every
    backend and executor records one number for one model, and a variant the same as its base. Counted on
    torch's meta device (no memory, milliseconds); None where transformers cannot build the architecture."""
    import copy

    import torch
    from transformers import AutoModelForCausalLM

    config = copy.deepcopy(config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    try:
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code)
    except (ValueError, KeyError, TypeError, RuntimeError, OSError, AttributeError):
        return None
    return sum(p.numel() for p in model.parameters())


def load_tokenizer(ref: ModelRef, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(ref.path, revision=ref.revision, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as e:
        raise UserError(f"cannot load the tokenizer of model '{ref.spec}': {_first_line(e)}") from None


def load_causal_lm(ref: ModelRef, *, dtype: str = "auto", device: str = "cpu",
                   trust_remote_code: bool = False, decompress: bool = True, **kwargs):
    """Load weights from safetensors only (never pickle), without remote code unless asked for. `decompress`
    False keeps a compressed-tensors checkpoint packed, as a runtime serving it packed (vLLM) holds it: for
    measuring its size (bench/compress/variants.py), never for scoring."""
    import torch
    from safetensors import SafetensorError
    from transformers import AutoModelForCausalLM

    torch_dtype = {"auto": "auto", "float32": torch.float32, "bfloat16": torch.bfloat16,
                   "float16": torch.float16}.get(dtype)
    if torch_dtype is None:
        raise UserError(f"dtype '{dtype}' is not one of auto, float32, bfloat16, float16")
    check_config(ref, trust_remote_code)
    kwargs = {**_load_time_quantization(ref, torch_dtype), **kwargs}
    if "quantization_config" in kwargs:
        kwargs.setdefault("device_map", {"": device})
    try:
        model, info = AutoModelForCausalLM.from_pretrained(
            ref.path, revision=ref.revision, dtype=torch_dtype, trust_remote_code=trust_remote_code,
            use_safetensors=not ref.allow_pickle, output_loading_info=True, **kwargs)
    except (OSError, ValueError, KeyError, RuntimeError, json.JSONDecodeError, SafetensorError) as e:
        raise UserError(f"cannot load model '{ref.spec}': {_first_line(e)}") from None
    check_loading_info(ref, info)
    if decompress:
        _decompress(model)
    if "device_map" not in kwargs:
        model = model.to(device)
    return model.eval()


def _decompress(model) -> None:
    """Decompress a compressed-tensors checkpoint now. It loads packed and would decompress on its first forward
    pass through a hook on the outer module, which the packed scorer, calling the decoder directly, never fires;
    qdbench measures quantization's effect in floating point either way (bench/compress/quantize.py)."""
    compressor = getattr(getattr(model, "hf_quantizer", None), "compressor", None)
    if compressor is not None and hasattr(model, "ct_decompress_hook"):
        compressor.decompress_model(model)


def check_loading_info(ref: ModelRef, info: dict) -> None:
    """Refuse a checkpoint that lacks weights the model has (transformers would leave them freshly random) or
    holds weights it has no place for. Tied weights (an untied copy of the embeddings) are not reported
    missing by transformers, so such checkpoints load."""
    problems = []
    for key, what in (("missing_keys", "missing from the checkpoint (they would be random)"),
                      ("unexpected_keys", "in the checkpoint but not in the model"),
                      ("mismatched_keys", "of the wrong shape")):
        names = sorted(str(k[0] if isinstance(k, tuple) else k) for k in info.get(key) or ())
        if names:
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            problems.append(f"{len(names)} weight(s) {what}: {shown}")
    if problems:
        raise UserError(f"cannot load model '{ref.spec}': " + "; ".join(problems) + " — the model folder is "
                        "incomplete or not of this architecture")


def _load_time_quantization(ref: ModelRef, torch_dtype) -> dict:
    """A variant folder may ask to be quantized as it loads (bitsandbytes); see bench/models/load_time.py."""
    path = Path(ref.path) / "qdbench_variant.json"
    if ref.kind == "hub" or not path.is_file():
        return {}
    spec = json.loads(path.read_text()).get("load_time_quantization")
    if not spec:
        return {}
    from bench.models.load_time import quantization_config

    return {"quantization_config": quantization_config(spec, torch_dtype)}


def _first_line(e: Exception) -> str:
    """A library's message on one line: its first, or all of it (capped) when the first line ends in a colon."""
    text = str(e).strip()
    if not text:
        return type(e).__name__
    first = text.splitlines()[0].strip()
    if not first.endswith(":"):
        return first
    whole = " ".join(text.split())
    return whole if len(whole) <= 400 else whole[:400] + "…"
