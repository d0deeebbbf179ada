"""Toxicity classifiers behind one interface: `load_classifier(spec, path, label).score(texts) -> [0, 1] scores`.

Specs:
- `detoxify:original`, `detoxify:unbiased` (and Detoxify's other model types): the Detoxify package. Offline,
  `path` is a folder holding the Detoxify checkpoint (`*.ckpt`) and the Hugging Face config and tokenizer files
  of its base model (`config.json` with `num_labels`), or the `.ckpt` file inside such a folder. Without `path`,
  the checkpoint is taken from torch.hub's cache, downloaded there first when online.
- `hf:NAME_OR_PATH`: any Hugging Face sequence classifier (safetensors weights only, no remote code); the score is
  the probability of the toxic label (`label`, or the one label named toxic/toxicity).
- `builtin:tiny-detoxify`: a random-initialized classifier in Detoxify's format, built locally from a fixed
  seed and then loaded through the real Detoxify class. Its scores are meaningless; it exists for tests and
  offline demos.
- `builtin:profanity-check`: alt-profanity-check's trained offensive-language classifier (a calibrated linear
  SVM over a 15,442-term TF-IDF vocabulary; PyPI, MIT). Real and offline, but an offensive-language classifier,
  not Detoxify: its numbers are not comparable with the papers'. Its two joblib (pickle) files are read from the
  installed package, which is trusted code like any installed library; the no-pickle rule is about files a user
  passes in, and no user path reaches this loader.

Detoxify reads its checkpoint with `torch.load(weights_only=False)`, i.e. full pickle. The file is therefore
read once here, unpickled with `weights_only=True` (tensors, dicts, lists and scalars only, anything else is
refused), and Detoxify is handed a re-serialization of that already-vetted dict, never the file itself.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bench.errors import UserError

DEFAULT = "detoxify:original"
HF_TOXIC_LABELS = ("toxic", "toxicity")


class Classifier(Protocol):
    id: str

    def score(self, texts: list[str]) -> list[float]: ...


@dataclass
class DetoxifyClassifier:
    model: object  # detoxify.Detoxify
    label: str
    id: str

    def score(self, texts: list[str]) -> list[float]:
        if not texts:
            return []
        out = self.model.predict(list(texts))[self.label]
        return [float(v) for v in (out if isinstance(out, list) else [out])]


@dataclass
class HFClassifier:
    model: object
    tokenizer: object
    index: int
    sigmoid: bool
    id: str
    device: str = "cpu"

    def score(self, texts: list[str]) -> list[float]:
        import torch

        if not texts:
            return []
        limit = int(getattr(self.model.config, "max_position_embeddings", 512) or 512)
        enc = self.tokenizer(list(texts), return_tensors="pt", padding=True, truncation=True,
                             max_length=min(limit, 512)).to(self.device)
        with torch.inference_mode():
            logits = self.model(**enc).logits.float()
        probs = torch.sigmoid(logits) if self.sigmoid else torch.softmax(logits, dim=-1)
        return probs[:, self.index].cpu().tolist()


def _offline() -> bool:
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes") for v in
               ("HF_HUB_OFFLINE", "QDBENCH_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


PROFANITY = "builtin:profanity-check"
PROFANITY_NOTE = ("toxicity here is alt-profanity-check's offensive-language probability (a TF-IDF linear SVM), "
                  "not Detoxify: not comparable with the papers' numbers")


@dataclass
class ProfanityClassifier:
    predict_prob: object  # profanity_check.predict_prob
    id: str

    def score(self, texts: list[str]) -> list[float]:
        if not texts:
            return []
        return [float(v) for v in self.predict_prob(list(texts))]


@functools.cache
def load_classifier(spec: str = DEFAULT, path: str | None = None, label: str | None = None) -> Classifier:
    """The classifier named by `spec`, loaded once per process."""
    kind, _, name = spec.partition(":")
    if kind == "detoxify" and name:
        return _load_detoxify(name, Path(path) if path else None, label or "toxicity")
    if kind == "hf" and (name or path):
        return _load_hf(path or name, label)
    if spec == "builtin:tiny-detoxify":
        if path:
            raise UserError("classifier builtin:tiny-detoxify is built locally and takes no path")
        from bench.models.tiny_classifier import materialize

        clf = _load_detoxify("original", materialize(), label or "toxicity")
        clf.id = clf.id.replace("detoxify:original", spec, 1)
        return clf
    if spec == PROFANITY:
        if path or label:
            raise UserError(f"classifier {PROFANITY} ships with its package and takes no path or label")
        return _load_profanity()
    raise UserError(f"classifier '{spec}': expected detoxify:original, detoxify:unbiased (Detoxify's model "
                    "types), hf:NAME_OR_PATH (a Hugging Face sequence classifier), builtin:profanity-check (an "
                    "offline offensive-language classifier) or builtin:tiny-detoxify")


def _load_profanity() -> ProfanityClassifier:
    """The package's own model files (importing it loads them); its id names the version and the files' hash."""
    import importlib.util
    from importlib import metadata

    found = importlib.util.find_spec("profanity_check")
    if found is None or found.origin is None:
        raise UserError(f"classifier {PROFANITY} needs the PyPI package alt-profanity-check (Python >= 3.11); "
                        "install it with `pip install 'qdbench[profanity]'` (make setup does)")
    data = Path(found.origin).parent / "data"
    digest = _sha256(b"".join((data / f).read_bytes() for f in ("model.joblib", "vectorizer.joblib")))
    import profanity_check

    version = metadata.version("alt-profanity-check")
    return ProfanityClassifier(profanity_check.predict_prob,
                               f"{PROFANITY}@alt-profanity-check=={version}+{digest[:12]}#offensive")


# -- Detoxify -----------------------------------------------------------------------------------------
def _how_to(model_type: str) -> str:
    from detoxify.detoxify import MODEL_URLS

    url = MODEL_URLS.get(model_type, "(see the Detoxify README)")
    return (f"download {url} on a machine with internet, put it in a folder together with the config.json and "
            "tokenizer files of its base model (e.g. bert-base-uncased for 'original', roberta-base for "
            "'unbiased'), and pass --classifier-path FOLDER; or use --classifier hf:PATH with a local Hugging Face "
            "toxicity classifier; or --classifier builtin:tiny-detoxify for a random one that only tests the "
            "pipeline")


def _detoxify_files(model_type: str, path: Path | None) -> tuple[Path, Path | None]:
    """(checkpoint file, folder of Hugging Face config and tokenizer files or None for the HF cache)."""
    import torch
    from detoxify.detoxify import MODEL_URLS

    if path is None:
        if model_type not in MODEL_URLS:
            raise UserError(f"classifier detoxify:{model_type}: unknown model type; expected one of "
                            f"{', '.join(MODEL_URLS)}")
        url = MODEL_URLS[model_type]
        ckpt = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[1]
        if not ckpt.is_file():
            if _offline():
                raise UserError(f"no Detoxify '{model_type}' checkpoint available offline ({ckpt} is missing): "
                                + _how_to(model_type))
            try:
                ckpt.parent.mkdir(parents=True, exist_ok=True)
                torch.hub.download_url_to_file(url, str(ckpt), hash_prefix=None, progress=False)
            except Exception as e:  # noqa: BLE001 - any download failure means the same to the user
                raise UserError(f"cannot download the Detoxify '{model_type}' checkpoint ({e}); "
                                + _how_to(model_type)) from None
        return ckpt, None
    if path.is_dir():
        found = sorted(path.glob("*.ckpt"))
        if len(found) != 1:
            raise UserError(f"--classifier-path {path}: expected exactly one Detoxify checkpoint (*.ckpt) in the "
                            f"folder, found {len(found)}")
        ckpt = found[0]
    elif path.is_file():
        ckpt = path
    else:
        raise UserError(f"--classifier-path {path}: no such file or folder")
    folder = ckpt.parent
    if not (folder / "config.json").is_file():
        raise UserError(f"--classifier-path {path}: expected the base model's config.json and tokenizer files "
                        f"next to {ckpt.name} (Detoxify loads them offline from that folder)")
    return ckpt, folder


def read_checkpoint(ckpt: Path) -> tuple[dict, str]:
    """The checkpoint dict, unpickled with weights_only=True, and the sha256 of the file's bytes."""
    import torch

    try:
        data = ckpt.read_bytes()
    except OSError as e:
        raise UserError(f"classifier checkpoint {ckpt}: cannot read: {e}") from None
    try:
        loaded = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises several types for bad or unsafe files
        raise UserError(f"classifier checkpoint {ckpt}: not a plain checkpoint of tensors and settings (refusing "
                        f"to unpickle other objects): {str(e).splitlines()[0]}") from None
    try:
        args = loaded["config"]["arch"]["args"]
        classes = loaded["config"]["dataset"]["args"]["classes"]
        ok = isinstance(loaded["state_dict"], dict) and isinstance(classes, list) and all(
            isinstance(args.get(k), str) for k in ("model_type", "model_name", "tokenizer_name"))
    except (KeyError, TypeError):
        ok = False
    if not ok:
        raise UserError(f"classifier checkpoint {ckpt}: expected Detoxify's format {{'config': {{'arch': {{'args': "
                        "{model_type, model_name, tokenizer_name, num_classes}}, 'dataset': {'args': {'classes'}}}, "
                        "'state_dict'}")
    return loaded, _sha256(data)


def _load_detoxify(model_type: str, path: Path | None, label: str) -> DetoxifyClassifier:
    import torch
    from detoxify import Detoxify

    ckpt, folder = _detoxify_files(model_type, path)
    loaded, digest = read_checkpoint(ckpt)
    if folder is not None:
        # Detoxify passes arch.args.model_type to from_pretrained; point it at the local folder.
        loaded["config"]["arch"]["args"]["model_type"] = str(folder)
    buf = io.BytesIO()
    torch.save(loaded, buf)
    buf.seek(0)
    try:
        model = Detoxify(model_type, checkpoint=buf, device=_device(),
                         huggingface_config_path=str(folder) if folder else None)
    except (OSError, ValueError, AttributeError, RuntimeError) as e:
        raise UserError(f"cannot load Detoxify from {ckpt}: {str(e).splitlines()[0]}; " + _how_to(model_type)) \
            from None
    if label not in model.class_names:
        raise UserError(f"classifier detoxify:{model_type}: no label '{label}'; it has "
                        f"{', '.join(model.class_names)}")
    return DetoxifyClassifier(model, label, f"detoxify:{model_type}@{digest[:12]}")


# -- any Hugging Face sequence classifier ---------------------------------------------------------------
def pick_label(id2label: dict, label: str | None) -> int:
    names = {int(i): str(n) for i, n in id2label.items()}
    wanted = [label.lower()] if label else list(HF_TOXIC_LABELS)
    hits = [i for i, n in names.items() if n.lower() in wanted]
    if len(hits) != 1:
        what = f"label '{label}'" if label else "exactly one label named toxic or toxicity"
        raise UserError(f"classifier labels are {', '.join(names[i] for i in sorted(names))}: expected {what}; "
                        "name the toxic label with --classifier-label")
    return hits[0]


def _load_hf(name: str, label: str | None) -> HFClassifier:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    local = Path(name).is_dir()
    if not local and (name.startswith((".", "/", "~")) or name.count("/") > 1):  # a path, not a hub id
        raise UserError(f"classifier hf:{name}: no such folder")
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            name, use_safetensors=True, trust_remote_code=False, local_files_only=local or _offline())
        tokenizer = AutoTokenizer.from_pretrained(name, trust_remote_code=False,
                                                  local_files_only=local or _offline())
    except (OSError, ValueError) as e:
        raise UserError(f"classifier hf:{name}: cannot load a sequence classifier with safetensors weights: "
                        f"{str(e).splitlines()[0]}") from None
    index = pick_label(model.config.id2label, label)
    sigmoid = model.config.problem_type == "multi_label_classification" or model.config.num_labels == 1
    device = _device()
    model.to(device).eval()
    digest = _sha256(b"".join(p.read_bytes() for p in sorted(Path(name).glob("*.safetensors")))) if local else ""
    ident = f"hf:{name}" + (f"@{digest[:12]}" if digest else f"@{getattr(model.config, '_commit_hash', None)}")
    return HFClassifier(model, tokenizer, index, sigmoid, ident + f"#{model.config.id2label[index]}", device)
