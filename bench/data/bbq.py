"""The published BBQ format (nyu-mll/BBQ): `data/<Category>.jsonl` and optional
`supplemental/additional_metadata.csv` (whose `target_loc` names the targeted answer)."""

from __future__ import annotations

import csv
from pathlib import Path

from bench.data.jsonl import read_jsonl
from bench.errors import UserError

CATEGORIES = (
    "Age", "Disability_status", "Gender_identity", "Nationality", "Physical_appearance", "Race_ethnicity",
    "Race_x_SES", "Race_x_gender", "Religion", "SES", "Sexual_orientation",
)
METADATA = "additional_metadata.csv"


def check(doc: dict) -> str | None:
    for key in ("context", "question", "ans0", "ans1", "ans2", "category"):
        if not isinstance(doc.get(key), str):
            return f"field '{key}' must be a string"
    if not isinstance(doc.get("example_id"), int) or isinstance(doc.get("example_id"), bool):
        return "field 'example_id' must be an integer"
    if isinstance(doc.get("label"), bool) or doc.get("label") not in (0, 1, 2):
        return f"field 'label' must be 0, 1 or 2 (got {doc.get('label')!r})"
    if doc.get("context_condition") not in ("ambig", "disambig"):
        return "field 'context_condition' must be 'ambig' or 'disambig'"
    if doc.get("question_polarity") not in ("neg", "nonneg"):
        return "field 'question_polarity' must be 'neg' or 'nonneg'"
    info = doc.get("answer_info")
    if not isinstance(info, dict) or any(
        not isinstance(info.get(f"ans{i}"), list) or len(info[f"ans{i}"]) != 2 for i in range(3)
    ):
        return "field 'answer_info' must map ans0, ans1, ans2 to [name, group]"
    meta = doc.get("additional_metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("stereotyped_groups"), list):
        return "field 'additional_metadata.stereotyped_groups' must be a list"
    return None


def discover(root: Path) -> list[Path]:
    """The category files under `root` (in `data/` as published, or directly in `root`)."""
    folder = root / "data" if (root / "data").is_dir() else root
    files = sorted(p for p in folder.glob("*.jsonl") if p.stem in CATEGORIES)
    meta = [p for p in (root / "supplemental" / METADATA, root / METADATA) if p.is_file()]
    if not files:
        raise UserError(f"no BBQ category files found in {root}: expected data/<Category>.jsonl with "
                        f"Category one of {', '.join(CATEGORIES)}")
    return files + meta[:1]


def read(path: Path) -> list[dict]:
    seen: set[tuple] = set()

    def check_unique(doc: dict) -> str | None:
        problem = check(doc)
        if problem:
            return problem
        key = (doc["category"], doc["example_id"])
        if key in seen:
            return f"example_id {doc['example_id']} of category {doc['category']} appears more than once"
        seen.add(key)
        return None

    docs = read_jsonl(path, check_unique)
    if path.stem in CATEGORIES and any(d["category"] != path.stem for d in docs):
        raise UserError(f"data file {path}: its items' 'category' must be '{path.stem}' (the file name)")
    return docs


def read_target_locs(path: Path) -> dict[tuple[str, int], int]:
    """(category, example_id) -> target_loc from the published additional_metadata.csv."""
    out = {}
    try:
        with path.open(newline="", encoding="utf-8") as f:
            for n, row in enumerate(csv.DictReader(f), 2):
                try:
                    if row["target_loc"] not in ("", "NA"):
                        out[(row["category"], int(row["example_id"]))] = int(float(row["target_loc"]))
                except (KeyError, ValueError):
                    raise UserError(f"data file {path} line {n}: expected columns category, example_id and "
                                    "an integer target_loc") from None
    except OSError as e:
        raise UserError(f"data file {path}: cannot read: {e}") from None
    return out


def load(files: list[Path]) -> list[dict]:
    docs: list[dict] = []
    locs: dict[tuple[str, int], int] = {}
    for path in files:
        if path.name == METADATA:
            locs = read_target_locs(path)
        else:
            docs.extend(read(path))
    for d in docs:
        loc = locs.get((d["category"], d["example_id"]))
        if loc is not None:
            d["target_loc"] = loc
    return docs


def describe(docs: list[dict]) -> str:
    cats = sorted({d["category"] for d in docs})
    missing = [c for c in CATEGORIES if c not in cats]
    text = f"{len(docs)} items in {len(cats)} of {len(CATEGORIES)} categories: {', '.join(cats)}"
    return text + (f" (not found: {', '.join(missing)})" if missing else "")
