"""Reading JSON-lines files with errors that name the file, the line and the field."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.errors import UserError
from bench.store.provenance import sha256_file  # noqa: F401  (data files are hashed as run files are)


def read_jsonl(path: Path, check: Callable[[dict], str | None]) -> list[dict]:
    """Parse every line; `check` returns a problem description or None."""
    docs = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"data file {path}: cannot read: {e}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"data file {path} line {n}: not valid JSON ({e.msg})") from None
        if not isinstance(doc, dict):
            raise UserError(f"data file {path} line {n}: expected a JSON object")
        problem = check(doc)
        if problem:
            raise UserError(f"data file {path} line {n}: {problem}")
        docs.append(doc)
    if not docs:
        raise UserError(f"data file {path}: holds no items")
    return docs


def first_named(root: Path, names: Sequence[str], missing: str) -> list[Path]:
    """`root` itself if it is a file, else the first of `names` found below it (in that order of preference);
    `missing` is the error message when none is there."""
    if root.is_file():
        return [root]
    for name in names:
        found = sorted(root.rglob(name))
        if found:
            return found[:1]
    raise UserError(missing)
