"""Training text the teacher writes itself (sequence-level KD, Kim & Rush 2016): seeded samples from neutral
prompts the project writes, so a student can be distilled offline without touching evaluation data.

`--corpus teacher[:N[:SEED]]` samples N documents: each starts with a prompt from TRAIN_PROMPTS (everyday,
technical and natural topics; no people, groups or identities, so the corpus itself carries no social
content) and continues with up to NEW_TOKENS tokens drawn from the teacher (ancestral sampling, top-p 0.95, in
seeded batches, so the same teacher and seed give the same bytes on the same machine). The file is cached under
$QDBENCH_HOME/corpora, named by the teacher's content fingerprint, N and SEED; its sha256 enters the student's
key and provenance like any corpus file. Documents that repeat an evaluation sentence (bench/data/eval_index)
are dropped as they are written.

The held-out texts of the distillation proof come from here too: teacher samples from HELD_OUT_PROMPTS (never
used for training) and the project's templated neutral sentences (bench/compress/neutral_text.py)
at a seed no default corpus uses.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from bench.errors import UserError
from bench.paths import home
from bench.store.atomic import write_bytes

TEACHER = "teacher"
VERSION = 1
NEW_TOKENS = 128
BATCH = 16
TOP_P = 0.95
DEFAULT_DOCS = 96  # about 11,000 tokens of SmolLM2 text, 9 minutes to write on a loaded 2-core machine
HELD_OUT_DOCS = 48
HELD_OUT_SEED = 900_001

TRAIN_PROMPTS = [
    "The best way to bake a loaf of bread at home is",
    "To repair a flat bicycle tyre, first",
    "Rain forms in clouds when",
    "A good vegetable garden needs",
    "The history of the printing press begins",
    "When you plan a long train journey,",
    "Volcanoes erupt because",
    "The rules of chess say that",
    "To make a cup of green tea,",
    "The water cycle describes how",
    "Bees are important for farms because",
    "A simple way to save electricity at home is",
    "The first step in learning to swim is",
    "Maps are drawn to scale so that",
    "The moon changes its shape in the sky because",
    "A sourdough starter is made by",
    "In a computer, the processor",
    "To paint a wooden fence,",
    "Glaciers move slowly across the land and",
    "The library in a small town usually",
    "A bridge can carry heavy loads because",
    "To keep houseplants healthy,",
    "Mountains are formed when",
    "The recipe for a simple tomato soup",
    "Clocks measure time by",
    "Ocean tides rise and fall because",
    "A good camping trip starts with",
    "Wind turbines turn moving air into",
    "The oldest known musical instruments",
    "To fold a paper boat,",
    "Forests change through the seasons:",
    "A telescope works by",
    "Recycling paper saves resources because",
    "Football is played by two teams that",
    "The desert at night is",
    "A spreadsheet helps to organise numbers by",
    "Honey is made when",
    "Snowflakes have six sides because",
    "The invention of the wheel",
    "To build a small bookshelf,",
]

HELD_OUT_PROMPTS = [
    "Lighthouses guide ships by",
    "To clean a cast iron pan,",
    "Rivers carve valleys over",
    "The game of tennis is scored",
    "A thermometer shows the temperature because",
    "Apples grow best in",
    "The postal service delivers letters by",
    "Earthquakes happen when",
    "To plant a tree,",
    "Coral reefs are built by",
    "A calendar divides the year into",
    "Kites fly because",
]


def parse_source(source: str) -> tuple[int, int] | None:
    """(N, SEED) of a `teacher[:N[:SEED]]` source; None for any other source."""
    if source != TEACHER and not source.startswith(TEACHER + ":"):
        return None
    parts = source.split(":")
    try:
        n = int(parts[1]) if len(parts) > 1 else DEFAULT_DOCS
        seed = int(parts[2]) if len(parts) > 2 else 0
    except ValueError:
        raise UserError(f"corpus '{source}': expected teacher[:N_DOCS[:SEED]] with integers") from None
    if n <= 0 or len(parts) > 3:
        raise UserError(f"corpus '{source}': expected teacher[:N_DOCS[:SEED]] with N_DOCS > 0")
    return n, seed


def _sample(model, tokenizer, prompts: list[str], seed: int, quiet: bool) -> list[str]:
    """One continuation per prompt, in seeded batches (each batch's RNG depends on (seed, batch) only)."""
    import torch

    from bench.compress.progress import Progress

    tokenizer.padding_side = "left"
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    docs = []
    bar = Progress("the teacher writes its corpus (once)", len(prompts), quiet=quiet, unit="document")
    for b in range(0, len(prompts), BATCH):
        batch = prompts[b:b + BATCH]
        enc = tokenizer(batch, return_tensors="pt", padding=True)
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(seed * 1_000_003 + b)
            out = model.generate(**enc, do_sample=True, top_p=TOP_P, top_k=0, temperature=1.0,
                                 max_new_tokens=NEW_TOKENS, pad_token_id=pad)
        for prompt, row in zip(batch, out[:, enc["input_ids"].shape[1]:], strict=True):
            text = tokenizer.decode(row, skip_special_tokens=True).strip()
            docs.append(f"{prompt} {text}".strip())
        bar.update(len(batch))
    return docs


def teacher_corpus(teacher_ref, n: int, seed: int, split: str = "train", quiet: bool = False) -> Path:
    """The cached .jsonl of `n` teacher-written documents (written once)."""
    import random

    from bench.data.eval_index import load_index, sentence_hashes
    from bench.models.loading import fingerprint, load_causal_lm, load_tokenizer

    fp = fingerprint(Path(teacher_ref.path))["sha256"] if teacher_ref.kind != "hub" else teacher_ref.spec
    path = home() / "corpora" / f"teacher-{fp[:16].replace('/', '--')}-{split}-{n}-{seed}-v{VERSION}.jsonl"
    if path.is_file():
        return path
    pool = TRAIN_PROMPTS if split == "train" else HELD_OUT_PROMPTS
    rng = random.Random(f"{split}:{seed}")
    prompts = [rng.choice(pool) for _ in range(n)]
    started = time.perf_counter()
    model = load_causal_lm(teacher_ref, dtype="float32").eval()
    docs = _sample(model, load_tokenizer(teacher_ref), prompts, seed, quiet)
    index = load_index()
    kept = [d for d in docs if not index.find(sentence_hashes(d))]
    lines = [json.dumps({"text": d}) for d in kept]
    write_bytes(path, ("\n".join(lines) + "\n").encode())
    write_bytes(path.with_suffix(".meta.json"), json.dumps({
        "teacher": teacher_ref.spec, "fingerprint": fp, "split": split, "n_requested": n, "seed": seed,
        "n_kept": len(kept), "dropped_as_eval_data": len(docs) - len(kept), "new_tokens": NEW_TOKENS,
        "top_p": TOP_P, "write_s": round(time.perf_counter() - started, 1)}, indent=1).encode())
    return path


def held_out_texts(teacher_ref, quiet: bool = False) -> dict[str, list[str]]:
    """The two held-out texts of the distillation proof: teacher-written (held-out prompts) and neutral
    project-written sentences; neither is a training corpus by default nor evaluation data."""
    from bench.compress.neutral_text import synthetic_sentences

    path = teacher_corpus(teacher_ref, HELD_OUT_DOCS, HELD_OUT_SEED, split="heldout", quiet=quiet)
    teacher_docs = [json.loads(line)["text"] for line in path.read_text().splitlines() if line.strip()]
    return {"teacher_written": teacher_docs, "neutral": synthetic_sentences(HELD_OUT_DOCS, seed=HELD_OUT_SEED)}
