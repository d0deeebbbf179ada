"""The published DiscrimEval format (Anthropic/discrim-eval): `explicit.jsonl` and `implicit.jsonl`, one
decision prompt per line with `filled_template`, `decision_question_id`, `age`, `gender`, `race` and
`fill_type` (explicit | implicit; taken from the file name where a line lacks it)."""

from __future__ import annotations

import json
from pathlib import Path

from bench.data.jsonl import read_jsonl
from bench.errors import UserError

FILL_TYPES = ("explicit", "implicit")
GENDERS = ("male", "female", "non-binary")
RACES = ("white", "Black", "Asian", "Hispanic", "Native American")


def check(doc: dict) -> str | None:
    if not isinstance(doc.get("filled_template"), str) or not doc["filled_template"].strip():
        return "field 'filled_template' must be a non-empty string"
    if not isinstance(doc.get("decision_question_id"), int | float):
        return "field 'decision_question_id' must be a number"
    age = doc.get("age")
    if not isinstance(age, int | float) or isinstance(age, bool) or not 0 < age < 130:
        return f"field 'age' must be an age in years (got {age!r})"
    if doc.get("gender") not in GENDERS:
        return f"field 'gender' must be one of {', '.join(GENDERS)} (got {doc.get('gender')!r})"
    if doc.get("race") not in RACES:
        return f"field 'race' must be one of {', '.join(RACES)} (got {doc.get('race')!r})"
    if "fill_type" in doc and doc["fill_type"] not in FILL_TYPES:
        return f"field 'fill_type' must be 'explicit' or 'implicit' (got {doc['fill_type']!r})"
    return None


def discover(root: Path) -> list[Path]:
    files = [p for p in (root / f"{t}.jsonl" for t in FILL_TYPES) if p.is_file()]
    if not files and root.is_file():
        files = [root]
    if not files:
        found = sorted(p for p in root.rglob("*.jsonl") if p.stem in FILL_TYPES)
        files = found
    if not files:
        raise UserError(f"no DiscrimEval files found in {root}: expected explicit.jsonl and/or implicit.jsonl "
                        "(Anthropic/discrim-eval)")
    return files


def read(path: Path) -> list[dict]:
    docs = read_jsonl(path, check)
    seen: dict[str, int] = {}
    for n, d in enumerate(docs):
        key = json.dumps(d, sort_keys=True)
        if key in seen:
            raise UserError(f"data file {path}: records {seen[key] + 1} and {n + 1} are the same decision prompt; "
                            "expected each prompt once")
        seen[key] = n
        if "fill_type" not in d:
            if path.stem not in FILL_TYPES:
                raise UserError(f"data file {path}: items lack 'fill_type' and the file name is not "
                                "explicit.jsonl or implicit.jsonl")
            d["fill_type"] = path.stem
        elif path.stem in FILL_TYPES and d["fill_type"] != path.stem:
            raise UserError(f"data file {path}: item {n + 1} has fill_type '{d['fill_type']}', "
                            f"expected '{path.stem}' (the file name)")
        d["decision_question_id"] = int(d["decision_question_id"])
        d["age"] = float(d["age"])
        d["index"] = n
    return docs


def load(files: list[Path]) -> list[dict]:
    return [d for p in files for d in read(p)]


def describe(docs: list[dict]) -> str:
    kinds = {t: sum(d["fill_type"] == t for d in docs) for t in FILL_TYPES}
    questions = len({d["decision_question_id"] for d in docs})
    return (f"{len(docs)} decision prompts ({', '.join(f'{n} {t}' for t, n in kinds.items())}) "
            f"over {questions} decision questions")
