"""Calibration text for GPTQ, AWQ and SmoothQuant: where it comes from, how much, and its hash.

Sources (a recipe's or a matrix's `calibration.source`):
- `builtin`: a templated English corpus the project writes itself, deliberately neutral everyday prose (no
  identity terms), so that calibrating cannot itself steer the bias measurements; one text per sample.
  Offline; for tests and the demo.
- a `.txt` (one text per line) or `.jsonl` (`text_field` of each object) file: one text per sample.
- `wikitext`, `c4` or `hf:DATASET_ID` (with `subset`, `split`, `revision`): a data set through `datasets`,
  online once. As in GPTQ (Frantar et al. 2023) and AWQ, its text is joined and tokenized, and `samples`
  windows of `seq_len` tokens are cut at seeded random offsets.
- `auto` (the default): the papers' setting, WikiText-2 with 128 × 2,048 tokens, for real models, and
  `builtin` (64 × 128) for the built-in tiny random models.

The variant's provenance records the resolved source, the data set commit, the sample counts and the sha256
of the texts, so two variants calibrated on different text never share a cache folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path

from bench.errors import UserError

SUBJECTS = ["The driver", "A teacher", "My neighbour", "The cook", "A student", "The pilot", "Our guide",
            "The nurse", "A farmer", "The clerk", "An engineer", "The painter", "A musician", "The baker"]
VERBS = ["carried", "opened", "repaired", "found", "moved", "cleaned", "checked", "painted", "sold", "counted"]
OBJECTS = ["the old wooden box", "a heavy bag of rice", "the broken window", "three small letters",
           "the kitchen door", "a basket of apples", "the blue bicycle", "the long ladder", "a map of the city",
           "the garden gate", "two cups of tea", "the noisy radio"]
PLACES = ["before noon", "near the station", "after the rain stopped", "in the quiet morning",
          "at the edge of the town", "behind the library", "during the long winter", "by the river"]
FOLLOW = ["Nobody said a word.", "It took longer than expected.", "The weather was mild.",
          "Everyone went home early.", "Then the bell rang twice.", "The street was almost empty.",
          "Later that day it snowed.", "The work was finished by evening."]


def builtin_corpus(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        k = rng.randint(1, 3)
        sents = [f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(PLACES)}. "
                 f"{rng.choice(FOLLOW)}" for _ in range(k)]
        out.append(" ".join(sents))
    return out


def file_corpus(path: Path, text_field: str = "text") -> list[str]:
    """One sample per line of a .txt file, or the `text_field` of each line of a .jsonl file."""
    if not path.is_file():
        raise UserError(f"calibration source '{path}' not found (expected auto, builtin, wikitext, c4, "
                        "hf:DATASET_ID, or a .txt or .jsonl file)")
    try:
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    except UnicodeDecodeError as e:
        raise UserError(f"calibration source '{path}': not UTF-8 text (byte {e.start} cannot be decoded); save "
                        "it as UTF-8") from None
    except OSError as e:
        raise UserError(f"calibration source '{path}': cannot read ({e.strerror})") from None
    if path.suffix == ".jsonl":
        texts = []
        for i, ln in enumerate(lines, 1):
            try:
                obj = json.loads(ln)
            except json.JSONDecodeError as e:
                raise UserError(f"{path}:{i}: not valid JSON ({e.msg})") from None
            if not isinstance(obj, dict) or not isinstance(obj.get(text_field), str):
                raise UserError(f"{path}:{i}: expected an object with a string field '{text_field}'")
            texts.append(obj[text_field])
        return texts
    if path.suffix != ".txt":
        raise UserError(f"calibration source '{path}': expected a .txt or .jsonl file")
    return lines


def calibration_texts(source: str, samples: int, seed: int, text_field: str = "text") -> list[str]:
    """A seeded sample of `samples` texts from `builtin` or a file; the same inputs always give the same list."""
    if source == "builtin":
        return builtin_corpus(samples, seed)
    texts = file_corpus(Path(source).expanduser(), text_field)
    if not texts:
        raise UserError(f"calibration source '{source}' holds no text")
    if len(texts) > samples:
        texts = random.Random(seed).sample(texts, samples)
    return texts


def texts_sha256(texts: list[str]) -> str:
    return hashlib.sha256(json.dumps(texts, ensure_ascii=False).encode()).hexdigest()


# Short names for the corpora the quantization papers calibrate on: (data set id, subset, data_files).
DATASETS = {
    "wikitext": ("Salesforce/wikitext", "wikitext-2-raw-v1", None),
    "c4": ("allenai/c4", None, {"train": "en/c4-train.00000-of-01024.json.gz"}),
}
PAPER_SAMPLES, PAPER_SEQ_LEN = 128, 2048
BUILTIN_SAMPLES, BUILTIN_SEQ_LEN = 64, 128


def is_dataset(source: str) -> bool:
    return source in DATASETS or source.startswith("hf:")


def resolve(cal, base_spec: str):
    """`cal` with `auto` and the default sizes made concrete for the base model (a builtin:tiny-* model gets
    the built-in texts, any other the papers' WikiText-2 setting)."""
    source = cal.source
    if source == "auto":
        source = "builtin" if base_spec.startswith("builtin:tiny") else "wikitext"
    small = source == "builtin"
    return cal.model_copy(update={
        "source": source,
        "samples": cal.samples or (BUILTIN_SAMPLES if small else PAPER_SAMPLES),
        "seq_len": cal.seq_len or (BUILTIN_SEQ_LEN if small else PAPER_SEQ_LEN)})


def calibration_for(recipe, base):
    """(recipe with its calibration resolved, texts, provenance record) for a calibrated recipe."""
    cal = resolve(recipe.calibration, base.spec)
    recipe = recipe.model_copy(update={"calibration": cal})
    if is_dataset(cal.source):
        texts, commit = dataset_texts(cal)
    else:
        texts, commit = calibration_texts(cal.source, cal.samples, cal.seed, cal.text_field), None
    record = {**cal.model_dump(), "dataset_commit": commit, "n_texts": len(texts), "sha256": texts_sha256(texts),
              "unit": "token windows" if is_dataset(cal.source) else "texts"}
    return recipe, texts, record


def dataset_texts(cal) -> tuple[list[str], str | None]:
    """The text of a hub data set's split (cached in $QDBENCH_HOME after the first download) and the commit
    it came from."""
    from bench.paths import home

    name, subset, data_files = DATASETS.get(cal.source) or (cal.source.removeprefix("hf:"), None, None)
    subset = cal.subset or subset
    cache = home() / "calibration" / "--".join(x.replace("/", "--") for x in
                                               (name, subset or "default", cal.split, cal.revision or "main"))
    if (cache / "texts.json").is_file():
        meta = json.loads((cache / "meta.json").read_text())
        return json.loads((cache / "texts.json").read_text()), meta.get("commit")
    hint = ("give a local .txt/.jsonl file as calibration.source, or `source: builtin` (not comparable with "
            "published variants)")
    if any(os.environ.get(v, "") not in ("", "0") for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")):
        raise UserError(f"calibration source '{cal.source}' ({name}) is a hub data set and the hub is offline; {hint}")
    try:
        import datasets
    except ImportError:
        raise UserError(f"calibration source '{cal.source}' needs the `datasets` package; {hint}") from None
    try:
        ds = datasets.load_dataset(name, subset, split=cal.split, revision=cal.revision, data_files=data_files)
    except Exception as e:  # network, missing data set, wrong subset: all the user's to fix
        raise UserError(f"calibration source '{cal.source}' ({name}, subset {subset}, split {cal.split}): cannot "
                        f"load it ({type(e).__name__}: {str(e).splitlines()[0][:200]}); {hint}") from None
    if cal.text_field not in ds.column_names:
        raise UserError(f"calibration source '{cal.source}': no column '{cal.text_field}' (has "
                        f"{', '.join(ds.column_names)}); set calibration.text_field")
    texts = [t for t in ds[cal.text_field] if isinstance(t, str) and t.strip()]
    if cal.source == "c4":  # one shard is ~350k documents; a seeded subset is plenty for 128 windows
        texts = random.Random(cal.seed).sample(texts, min(len(texts), 20 * cal.samples))
    commit = None
    try:
        from huggingface_hub import HfApi

        commit = HfApi().dataset_info(name, revision=cal.revision).sha
    except Exception:  # the text is hashed either way; the commit is a convenience
        pass
    from bench.store.atomic import write_json

    write_json(cache / "meta.json", {"dataset": name, "subset": subset, "split": cal.split,
                                     "revision": cal.revision, "commit": commit})
    write_json(cache / "texts.json", texts)
    return texts, commit


def token_windows(ids: list[int], samples: int, seq_len: int, seed: int) -> list[list[int]]:
    """`samples` windows of `seq_len` tokens at seeded random offsets, as GPTQ's get_wikitext2 cuts them."""
    if len(ids) <= seq_len:
        return [ids]
    rng = random.Random(seed)
    return [ids[i:i + seq_len] for i in (rng.randrange(0, len(ids) - seq_len) for _ in range(samples))]


def tokenized_dataset(tokenizer, texts: list[str], cal):
    """A `datasets.Dataset` of input ids as llm-compressor's oneshot takes it: data set text as token windows,
    other texts one sample each, truncated to `seq_len`."""
    from datasets import Dataset

    if is_dataset(cal.source):
        ids = token_windows(tokenizer("\n\n".join(texts))["input_ids"], cal.samples, cal.seq_len, cal.seed)
    else:
        ids = [tokenizer(t, truncation=True, max_length=cal.seq_len)["input_ids"] for t in texts]
    return Dataset.from_dict({"input_ids": ids, "attention_mask": [[1] * len(x) for x in ids]})
