"""Which sentences are evaluation data: an index of normalized sentence hashes over every evaluation set this
machine holds, so training text (a distillation corpus) that repeats one is refused before it is trained on.

The sets indexed: the project's own samples (bench/data/samples), the real data beside the checkout
(../shared/data), everything imported into $QDBENCH_HOME/data, and any folder in $QDBENCH_EVAL_DATA
(os.pathsep-separated). Every string in their .jsonl/.json/.csv/.tsv/.txt files is cut into sentences; a
sentence is lower-cased, reduced to letters and digits separated by single spaces, and kept when it has at
least MIN_WORDS words (shorter ones — "The answer is no." — occur in any English text). Its 8-byte BLAKE2b hash
enters a sorted array stored once under $QDBENCH_HOME/index, named by a signature of the files' paths, sizes
and modification times, so a check costs one hash per corpus sentence and a binary search.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from bench.paths import home, repo_root
from bench.store.atomic import write_with

MIN_WORDS = 8
INDEX_VERSION = 1
SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".txt")
_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+|\t+")
_NON_WORD = re.compile(r"[^0-9a-z]+")


def roots() -> list[Path]:
    """The folders whose files are evaluation data, those that exist, in a fixed order."""
    out = [repo_root() / "bench" / "data" / "samples", repo_root().parent / "shared" / "data", home() / "data"]
    out += [Path(p).expanduser() for p in os.environ.get("QDBENCH_EVAL_DATA", "").split(os.pathsep) if p]
    return [p for p in out if p.is_dir()]


def normalize(sentence: str) -> str:
    return " ".join(_NON_WORD.sub(" ", sentence.lower()).split())


def sentences(text: str) -> list[tuple[str, int]]:
    """(normalized sentence, its hash) for the sentences of `text` that have at least MIN_WORDS words."""
    out = []
    for s in _SPLIT.split(text):
        norm = normalize(s)
        if norm.count(" ") + 1 >= MIN_WORDS:
            out.append((norm, int.from_bytes(hashlib.blake2b(norm.encode(), digest_size=8).digest(), "little")))
    return out


def sentence_hashes(text: str) -> list[int]:
    return [h for _, h in sentences(text)]


def _strings(obj) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in _strings(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in _strings(v)]
    return []


def file_texts(path: Path) -> list[str]:
    """Every string a data file holds (json values, csv cells, text lines); unreadable files give none."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    if path.suffix == ".json":
        try:
            return _strings(json.loads(text))
        except ValueError:
            return [text]
    if path.suffix == ".jsonl":
        out = []
        for line in text.splitlines():
            try:
                out.extend(_strings(json.loads(line)))
            except ValueError:
                out.append(line)
        return out
    if path.suffix == ".csv":
        try:
            return [cell for row in csv.reader(io.StringIO(text)) for cell in row]
        except csv.Error:
            return [text]
    return [text]


def data_files() -> list[Path]:
    return sorted({p.resolve() for root in roots() for p in root.rglob("*")
                   if p.is_file() and p.suffix in SUFFIXES and not p.name.startswith(".")})


@dataclass(frozen=True)
class EvalIndex:
    hashes: object  # numpy uint64, sorted
    file_of: object  # numpy int32, the file each hash came from
    files: list[str]

    def find(self, hashes: list[int]) -> list[tuple[int, str]]:
        """(position in `hashes`, evaluation file) for every hash the index holds."""
        import numpy as np

        if not hashes or len(self.hashes) == 0:
            return []
        q = np.array(hashes, dtype=np.uint64)
        pos = np.searchsorted(self.hashes, q).clip(0, len(self.hashes) - 1)
        hit = np.nonzero(self.hashes[pos] == q)[0]
        return [(int(i), self.files[int(self.file_of[pos[i]])]) for i in hit]


def _signature(files: list[Path]) -> str:
    h = hashlib.sha256(f"{INDEX_VERSION}:{MIN_WORDS}".encode())
    for p in files:
        st = p.stat()
        h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:24]


def load_index() -> EvalIndex:
    """The index of every evaluation sentence on this machine, built once per state of the data files."""
    import numpy as np

    files = data_files()
    path = home() / "index" / f"eval-sentences-{_signature(files)}.npz"
    if path.is_file():
        with np.load(path) as z:
            return EvalIndex(z["hashes"], z["file_of"], json.loads(str(z["files"])))
    hashes: list[int] = []
    owner: list[int] = []
    for i, f in enumerate(files):
        for text in file_texts(f):
            hs = sentence_hashes(text)
            hashes.extend(hs)
            owner.extend([i] * len(hs))
    h = np.array(hashes, dtype=np.uint64)
    order = np.argsort(h, kind="stable")
    index = EvalIndex(h[order], np.array(owner, dtype=np.int32)[order], [str(f) for f in files])

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, hashes=index.hashes, file_of=index.file_of, files=np.array(json.dumps(index.files)))

    write_with(path, write)
    return index
