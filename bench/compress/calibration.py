"""Calibration text: a templated English corpus the project writes itself, or the user's own .txt/.jsonl file.

The built-in corpus is deliberately neutral everyday prose (no identity terms), so that calibrating a model
cannot itself steer the bias measurements that follow.
"""

from __future__ import annotations

import hashlib
import json
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


def file_corpus(path: Path) -> list[str]:
    """One sample per line of a .txt file, or the `text` field of each line of a .jsonl file."""
    if not path.is_file():
        raise UserError(f"calibration source '{path}' not found (expected 'builtin', a .txt or a .jsonl file)")
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
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise UserError(f"{path}:{i}: expected an object with a string field 'text'")
            texts.append(obj["text"])
        return texts
    if path.suffix != ".txt":
        raise UserError(f"calibration source '{path}': expected a .txt or .jsonl file")
    return lines


def calibration_texts(source: str, samples: int, seed: int) -> list[str]:
    """A seeded sample of `samples` texts; the same inputs always give the same list."""
    if source == "builtin":
        return builtin_corpus(samples, seed)
    texts = file_corpus(Path(source).expanduser())
    if not texts:
        raise UserError(f"calibration source '{source}' holds no text")
    if len(texts) > samples:
        texts = random.Random(seed).sample(texts, samples)
    return texts


def texts_sha256(texts: list[str]) -> str:
    return hashlib.sha256(json.dumps(texts, ensure_ascii=False).encode()).hexdigest()


def tokenized_dataset(tokenizer, texts: list[str], seq_len: int):
    """A `datasets.Dataset` of input ids truncated to `seq_len`, as llm-compressor's oneshot takes it."""
    from datasets import Dataset

    ids = [tokenizer(t, truncation=True, max_length=seq_len)["input_ids"] for t in texts]
    return Dataset.from_dict({"input_ids": ids, "attention_mask": [[1] * len(x) for x in ids]})
