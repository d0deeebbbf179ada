"""Training text for distillation: local .txt/.jsonl files, a hub data set when online, or a synthetic corpus.

The synthetic corpus is templated, neutral English the project writes itself (seeded), so tests and demos
never train on task data. Every corpus is hashed, so a distilled variant names exactly what it learned from.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from bench.compress.neutral_text import synthetic_sentences
from bench.errors import UserError
from bench.paths import home
from bench.store.atomic import write_bytes

SYNTHETIC = "synthetic"
TEXT_SUFFIXES = (".txt", ".jsonl")

def write_synthetic(path: Path, n_docs: int, seed: int = 0) -> Path:
    """Write a synthetic corpus as a .txt file, one document per paragraph (blank-line separated)."""
    write_bytes(path, ("\n\n".join(synthetic_sentences(n_docs, seed)) + "\n").encode())
    return path


@dataclass(frozen=True)
class Corpus:
    documents: list[str]
    sources: list[str]
    sha256: str


def load_corpus(sources: list[str], text_field: str = "text", teacher=None, quiet: bool = True,
                check_eval: bool = True) -> Corpus:
    """Read every source in order. A source is a .txt/.jsonl file, a folder of them, `synthetic[:N_DOCS[:SEED]]`,
    `teacher[:N_DOCS[:SEED]]` (text the teacher `teacher`, a ModelRef, writes; bench/compress/teacher_text),
    or a hub data set name (needs the network and the `datasets` package). A file that repeats evaluation
    sentences is refused (bench/data/eval_index) unless `check_eval` is False."""
    if not sources:
        raise UserError("corpus: give at least one source (a .txt/.jsonl file, a folder, teacher:N or "
                        "synthetic:N)")
    h = hashlib.sha256()
    docs: list[str] = []
    names: list[str] = []
    for source in sources:
        for path in _files(source, teacher, quiet):
            data = path.read_bytes()
            h.update(path.name.encode() + b"\0" + hashlib.sha256(data).digest())
            file_docs = _documents(path, data, text_field)
            if check_eval:
                refuse_eval_overlap(path, file_docs)
            docs.extend(file_docs)
            names.append(str(path))
    docs = [d for d in docs if d.strip()]
    if not docs:
        raise UserError(f"corpus {sources}: no text found (expected non-empty .txt paragraphs or jsonl "
                        f"objects with a '{text_field}' field)")
    return Corpus(docs, names, h.hexdigest())


def refuse_eval_overlap(path: Path, documents: list[str]) -> None:
    """A UserError naming `path` and an evaluation file when a document repeats one of its sentences."""
    from bench.data.eval_index import load_index, sentences

    index = load_index()
    found = [(norm, h) for d in documents for norm, h in sentences(d)]
    hits = index.find([h for _, h in found])
    if hits:
        first, eval_file = hits[0]
        example = found[first][0][:80]
        raise UserError(f"corpus file '{path}' repeats evaluation data: {len(hits)} sentence(s) also in "
                        f"'{eval_file}' (e.g. \"{example}\"); training on it would leak the test into the "
                        "student: remove them or use another corpus (default: teacher:N)")


def _files(source: str, teacher=None, quiet: bool = True) -> list[Path]:
    from bench.compress.teacher_text import parse_source, teacher_corpus

    written = parse_source(source)
    if written is not None:
        if teacher is None:
            raise UserError(f"corpus '{source}': a teacher-written corpus needs the teacher (qdbench distill)")
        return [teacher_corpus(teacher, *written, quiet=quiet)]
    if source == SYNTHETIC or source.startswith(SYNTHETIC + ":"):
        return [_synthetic_file(source)]
    path = Path(source).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES)
        if not files:
            raise UserError(f"corpus folder '{source}' holds no .txt or .jsonl files")
        return files
    if path.is_file():
        if path.suffix not in TEXT_SUFFIXES:
            raise UserError(f"corpus file '{source}': expected a .txt or .jsonl file")
        return [path]
    if source.startswith((".", "/", "~")) or "/" not in source and "." in source:
        raise UserError(f"corpus '{source}' not found: expected a .txt/.jsonl file, a folder, synthetic:N, "
                        "or a hub data set name")
    return [_hub_file(source)]


def _synthetic_file(source: str) -> Path:
    parts = source.split(":")
    try:
        n_docs = int(parts[1]) if len(parts) > 1 else 2000
        seed = int(parts[2]) if len(parts) > 2 else 0
    except ValueError:
        raise UserError(f"corpus '{source}': expected synthetic[:N_DOCS[:SEED]] with integers") from None
    if n_docs <= 0 or len(parts) > 3:
        raise UserError(f"corpus '{source}': expected synthetic[:N_DOCS[:SEED]] with N_DOCS > 0")
    path = home() / "corpora" / f"synthetic-{n_docs}-{seed}.txt"
    return path if path.is_file() else write_synthetic(path, n_docs, seed)


def _hub_file(name: str) -> Path:
    """Export the train split's text of a hub data set once into the cache as jsonl."""
    path = home() / "corpora" / "hub" / (name.replace("/", "--") + ".jsonl")
    if path.is_file():
        return path
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0") or \
        os.environ.get("HF_DATASETS_OFFLINE", "") not in ("", "0")
    hint = ("download it where you have network, or pass local .txt/.jsonl files with --corpus")
    if offline:
        raise UserError(f"corpus '{name}' is a hub data set but the hub is offline (HF_HUB_OFFLINE); {hint}")
    try:
        import datasets
    except ImportError:
        raise UserError(f"corpus '{name}' is a hub data set and needs the `datasets` package; {hint}") from None
    try:
        ds = datasets.load_dataset(name, split="train")
    except Exception as e:  # any network or hub failure becomes one readable message
        raise UserError(f"corpus '{name}': cannot load the hub data set ({type(e).__name__}: "
                        f"{str(e).splitlines()[0] if str(e) else ''}); {hint}") from None
    if "text" not in ds.column_names:
        raise UserError(f"corpus '{name}': the data set has no 'text' column (columns: {ds.column_names})")
    lines = "".join(json.dumps({"text": t}) + "\n" for t in ds["text"])
    write_bytes(path, lines.encode())
    return path


def _documents(path: Path, data: bytes, text_field: str) -> list[str]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"corpus file '{path}' is not UTF-8 text") from None
    if path.suffix == ".txt":
        return [p.strip() for p in text.replace("\r\n", "\n").split("\n\n")]
    docs = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            raise UserError(f"corpus file '{path}' line {n}: not valid JSON") from None
        if not isinstance(obj, dict) or not isinstance(obj.get(text_field), str):
            raise UserError(f"corpus file '{path}' line {n}: expected an object with a string '{text_field}' "
                            "field")
        docs.append(obj[text_field])
    return docs
