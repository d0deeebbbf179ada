"""Read the submissions folder back, re-verifying every submission as if it had just arrived.

The folder is untrusted (anyone can send a pull request): each submission's files must be exactly those its
`submission.json` lists, with the sha256 it records, and the runs must pass every submission check again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.data.jsonl import sha256_file
from bench.errors import UserError
from bench.leaderboard import bundle, limits
from bench.leaderboard.safety import check_name, inside, read_json, walk_plain


@dataclass
class Submission:
    path: Path
    doc: dict
    family: bundle.Family


def load_submission(path: Path, root: Path) -> Submission:
    inside(root, path)
    doc = read_json(path / "submission.json")
    if doc.get("schema") != "qdbench.submission/1":
        raise UserError(f"{path / 'submission.json'}: field 'schema': expected 'qdbench.submission/1'")
    check_name(doc.get("family"), f"{path / 'submission.json'}: field 'family'")
    check_name(doc.get("id"), f"{path / 'submission.json'}: field 'id'")
    if doc["family"] != path.parent.name or doc["id"] != path.name:
        raise UserError(f"{path / 'submission.json'}: family/id do not match the folder {path}")
    listed: dict[str, str] = {"submission.json": ""}
    runs = doc.get("runs")
    if not isinstance(runs, list) or not runs or len(runs) > limits.MAX_RUNS:
        raise UserError(f"{path / 'submission.json'}: field 'runs': expected a list of 1-{limits.MAX_RUNS} runs")
    for i, r in enumerate(runs):
        where = f"{path / 'submission.json'}: field 'runs.{i}'"
        if not isinstance(r, dict) or not isinstance(r.get("files"), dict):
            raise UserError(f"{where}: expected {{variant, task, path, files}}")
        rel = f"runs/{check_name(r.get('variant'), where + '.variant')}/{check_name(r.get('task'), where + '.task')}"
        for name in limits.RUN_FILES:
            entry = r["files"].get(name)
            if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
                raise UserError(f"{where}.files.{name}: missing sha256")
            listed[f"{rel}/{name}"] = entry["sha256"]
    present = {str(f.relative_to(path)): f for f in walk_plain(path)}
    for rel in sorted(set(present) | set(listed)):
        if rel not in listed:
            raise UserError(f"{path / rel}: not listed in submission.json; submissions hold only what they list")
        if rel not in present:
            raise UserError(f"{path / rel}: missing (submission.json lists it)")
        if listed[rel] and sha256_file(present[rel]) != listed[rel]:
            raise UserError(f"{path / rel}: hash mismatch with submission.json; the file was changed after "
                            "it was accepted")
    families = bundle.validate(sorted({present[k].parent for k in present if k.endswith("/manifest.json")}))
    if len(families) != 1 or families[0].name != doc["family"]:
        raise UserError(f"{path}: runs do not all belong to family '{doc['family']}'")
    return Submission(path, doc, families[0])


def load_all(root: Path) -> list[Submission]:
    """Every submission under `root` (`<family>/<id>/`), verified; a clear error names the first bad one."""
    if not root.is_dir():
        raise UserError(f"{root}: no such submissions folder")
    out = []
    for fam in sorted(p for p in root.iterdir() if not p.name.startswith(".")):
        if fam.is_symlink() or not fam.is_dir():
            if fam.name.lower() == "readme.md":
                continue
            raise UserError(f"{fam}: expected a family folder")
        check_name(fam.name, f"{fam}")
        for sub in sorted(p for p in fam.iterdir() if not p.name.startswith(".")):
            if sub.is_symlink() or not sub.is_dir():
                raise UserError(f"{sub}: expected a submission folder")
            out.append(load_submission(sub, root))
    return out
