"""Read the submissions folder back, re-verifying every submission as if it had just arrived.

The folder is untrusted (anyone can send a pull request): each `submission.json` must match its schema (types,
plain text, finite numbers), hash to its own `submission_sha256` and sit in the folder its id names (both
bench.leaderboard.accept.seal); its files must be exactly those it lists, with the sha256 it records; the runs
must pass every submission check again and hash to its `content_sha256`. What the page shows about a variant's
method, kind and bits is derived again from the verified manifests (`Submission.variant`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.data.jsonl import sha256_file
from bench.errors import UserError
from bench.leaderboard import bundle, schema, variants
from bench.leaderboard.accept import SCHEMA, seal
from bench.leaderboard.safety import check_name, inside, read_json, walk_plain


@dataclass
class Submission:
    path: Path
    doc: dict
    family: bundle.Family

    def variant(self, name: str) -> dict:
        """A variant as the page shows it: method, kind and bits from its verified manifests, bytes, parameters
        and build times as the submission measured them."""
        run = next(r for r in self.family.runs if bundle.variant_of(r) == name)
        return {**self.doc.get("variants", {}).get(name, {}), **variants.describe(run.manifest)}

    def weight_bytes(self) -> dict[str, int | None]:
        """Variant -> the bytes of its weights as loaded, as the submission measured them: equal memory where the
        model folders are not on this machine."""
        return {name: v.get("bytes") for name, v in self.doc["variants"].items()}

    def distillation(self) -> dict[str, dict]:
        """Student -> its proof of distillation as the submitter measured it (not re-measured: the weights are
        not in a submission), where the student's folder was there to read."""
        return {name: v["distillation"] for name, v in self.doc["variants"].items() if v.get("distillation")}


def load_submission(path: Path, root: Path) -> Submission:
    inside(root, path)
    where = path / "submission.json"
    doc = read_json(where)
    if doc.get("schema") != SCHEMA:
        raise UserError(f"{where}: field 'schema': expected '{SCHEMA}', got {str(doc.get('schema'))[:40]!r} (a "
                        "submission made by an older qdbench is submitted again from its runs)")
    schema.check(schema.Submission, doc, where)
    sealed = seal(doc)
    if doc["submission_sha256"] != sealed["submission_sha256"]:
        raise UserError(f"{where}: field 'submission_sha256': the document does not hash to it; submission.json was "
                        "changed after it was accepted")
    if doc["family"] != path.parent.name or doc["id"] != path.name:
        raise UserError(f"{where}: fields 'family' and 'id' ('{doc['family']}/{doc['id']}') do not name the folder "
                        f"{path.parent.name}/{path.name}; a submission stays in the folder it was accepted into")
    if doc["id"] != sealed["id"]:
        raise UserError(f"{where}: field 'id': '{doc['id']}' but the document hashes to '{sealed['id']}'")
    listed: dict[str, str] = {"submission.json": ""}
    for i, r in enumerate(doc["runs"]):
        rel = f"runs/{r['variant']}/{r['task']}"
        if r["path"] != rel:
            raise UserError(f"{where}: field 'runs.{i}.path': expected '{rel}'")
        for name, entry in r["files"].items():
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
    fam = families[0]
    if doc["content_sha256"] != fam.content_sha256():
        raise UserError(f"{where}: field 'content_sha256': the runs hash to {fam.content_sha256()[:12]}…, not "
                        f"{doc['content_sha256'][:12]}…")
    names = {bundle.variant_of(r) for r in fam.runs}
    if set(doc["variants"]) != names:
        raise UserError(f"{where}: field 'variants': lists {sorted(doc['variants'])} but the runs are of "
                        f"{sorted(names)}")
    return Submission(path, doc, fam)


def load_family_submission(path: Path, family: str) -> Submission:
    """`--submission PATH` of findings and compare: the accepted submission there, verified, holding `family`."""
    if not (path / "submission.json").is_file():
        raise UserError(f"--submission {path}: no submission.json there (expected SUBMISSIONS/FAMILY/ID)")
    sub = load_submission(path, path.parent.parent)
    if sub.family.name != family:
        raise UserError(f"--submission {path}: holds family '{sub.family.name}', not '{family}'")
    return sub


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
