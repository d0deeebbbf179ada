"""`format: generic`: a task's items from plain JSON-lines, JSON, CSV or TSV files, with no Python.

Each row becomes one document with every column of the file; `data.fields` in the task file maps the names
the task's templates use to the file's columns (`question: q`, `label: answer.index` for a nested JSON key),
so a published file need not be rewritten to fit the template.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from bench.data.jsonl import read_jsonl
from bench.errors import UserError

TAKES_SPEC = True  # load() gets the task's `data` section (the field mapping)
SUFFIXES = (".jsonl", ".json", ".csv", ".tsv")
SKIP = {"qdbench-data.json"}


def discover(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in SUFFIXES and p.name not in SKIP)
    if not files:
        raise UserError(f"no data files in {root}: expected .jsonl, .json, .csv or .tsv files")
    return files


def _rows(path: Path) -> list[dict]:
    if path.suffix == ".jsonl":
        return read_jsonl(path, lambda doc: None)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"data file {path}: cannot read: {e}") from None
    if path.suffix == ".json":
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as e:
            raise UserError(f"data file {path} line {e.lineno}: not valid JSON ({e.msg})") from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise UserError(f"data file {path}: expected a JSON list of objects (one per item)")
    elif path.suffix in (".csv", ".tsv"):
        csv.field_size_limit(sys.maxsize)
        reader = csv.DictReader(text.splitlines(), delimiter="," if path.suffix == ".csv" else "\t")
        rows = []
        for n, row in enumerate(reader, 2):
            if None in row or None in row.values():
                raise UserError(f"data file {path} line {n}: expected {len(reader.fieldnames or [])} columns")
            rows.append(row)
    else:
        raise UserError(f"data file {path}: expected a .jsonl, .json, .csv or .tsv file")
    if not rows:
        raise UserError(f"data file {path}: holds no items")
    return rows


def _lookup(row: dict, key: str):
    node = row
    for part in key.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise KeyError(key)
    return node


def load(files: list[Path], data=None) -> list[dict]:
    mapping = dict(getattr(data, "fields", None) or {})
    docs = []
    for path in files:
        for n, row in enumerate(_rows(path), 1):
            doc = dict(row)
            for target, source in mapping.items():
                try:
                    doc[target] = _lookup(row, source)
                except KeyError:
                    raise UserError(f"data file {path} item {n}: no field '{source}' (mapped to '{target}' by "
                                    f"the task's data.fields; the item has {', '.join(map(str, row)) or 'none'})"
                                    ) from None
            docs.append(doc)
    return docs


def describe(docs: list[dict]) -> str:
    return f"{len(docs)} items"
