"""Add validated families to the submissions folder, all or nothing.

Layout: `<root>/<family>/<submission id>/` holding `submission.json` (schema qdbench.submission/2, see
bench/leaderboard/schema.py: who, when, what each file's sha256 is, how the variants were measured and how long
they took to produce, sealed by `submission_sha256`, whose first digits are the id) and
`runs/<variant>/<task>/{manifest.json, metrics.json, items.parquet}`. Each submission is staged beside its
final place and renamed in; if any step fails, everything this call added is removed again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from bench import __version__
from bench.data.jsonl import sha256_file
from bench.errors import UserError
from bench.leaderboard import limits, schema, variants
from bench.leaderboard.bundle import Family, fingerprint, variant_of
from bench.leaderboard.safety import check_name, inside, read_json
from bench.store.atomic import write_failure, write_json
from bench.store.provenance import digest

SCHEMA = "qdbench.submission/2"
CHECKS = ["manifest and metrics schemas", "required provenance", "file sizes and counts", "no symbolic links",
          "item ids match the manifest's hash", "recorded file hashes", "metrics recomputed from the items",
          "non-finite items recomputed from the log-likelihoods", "a base run for every variant and task",
          "same task file, template, data, items and seed as the base",
          "same gold answers, group fields and item content as the base", "one build (model fingerprint) per variant"]


def existing_hashes(root: Path) -> dict[str, Path]:
    """content sha256 -> submission folder, for every submission already in `root` (`build` checks that each
    recorded content_sha256 is what its runs hash to)."""
    out = {}
    if not root.is_dir():
        return out
    for fam in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for sub in sorted(p for p in fam.iterdir() if p.is_dir() and not p.name.startswith(".")):
            path = sub / "submission.json"
            if path.is_file():
                try:
                    out[str(read_json(path).get("content_sha256"))] = sub
                except UserError:
                    continue
    return out


def production(fam: Family, sizes: dict[str, dict], reported_s: float | None) -> dict:
    """How long the family took to produce: evaluation wall time per run, variant build time, the clock span
    (the manifests' timings are schema-checked: ISO times with a zone, finite seconds)."""
    timings = [r.manifest["timings"] for r in fam.runs]
    walls = [float(t.get("wall_s_last_session") or 0) for t in timings]
    started = sorted((t["started"] for t in timings if t.get("started")), key=datetime.fromisoformat)
    finished = sorted((t["finished"] for t in timings if t.get("finished")), key=datetime.fromisoformat)
    span = None
    if started and finished:
        span = (datetime.fromisoformat(finished[-1]) - datetime.fromisoformat(started[0])).total_seconds()
    loads = sorted({r.manifest["hardware"].get("load_avg_1m") for r in fam.runs} - {None})
    return {"evaluation_wall_s": round(sum(walls), 1),
            "variant_build_wall_s": round(sum(float(s.get("build_wall_s") or 0) for s in sizes.values()), 1),
            "first_run_started": started[0] if started else None,
            "last_run_finished": finished[-1] if finished else None,
            "clock_span_s": span, "reported_total_s": reported_s,
            "load_avg_1m_range": [loads[0], loads[-1]] if loads else None,
            "hardware": fam.runs[0].manifest["hardware"]}


def seal(doc: dict) -> dict:
    """The two fields that bind a submission document to its content: `submission_sha256`, the digest of every
    other field (the parsed values, so re-indenting changes nothing), and the id `<day submitted>-<its first 12
    hex digits>`, which names the submission's folder. `build` recomputes both: an edit after acceptance no
    longer hashes to them, and an edit sealed again is a new id, so a new submission, not a silent change."""
    sha = digest({k: v for k, v in doc.items() if k not in ("id", "submission_sha256")})
    return {"id": f"{str(doc.get('submitted', ''))[:10].replace('-', '')}-{sha[:12]}", "submission_sha256": sha}


MEASURED_FOR = "(measured for submission"
CARRIED = ("bytes", "bits_per_param", "parameters", "build_wall_s", "build_load_s", "distillation")


def carry(size: dict, manifest: dict, old_id: str | None, old: tuple[str | None, dict] | None) -> dict:
    """A variant measured nowhere here keeps what the submission it supersedes measured, where the weights are
    the same (equal fingerprints): resubmitting a family with more runs loses no bytes."""
    if size["bytes"] is not None or old is None:
        return size
    old_print, old_size = old
    sha = fingerprint(manifest)
    if sha is None or sha != old_print or old_size.get("bytes") is None:
        return size
    source = str(old_size.get("bytes_source"))
    if MEASURED_FOR not in source:
        source = f"{source} {MEASURED_FOR} {old_id}, the same weights by fingerprint)"
    else:  # carried before: name the submission that measured it, once
        source = source[:source.index(")", source.index(MEASURED_FOR)) + 1]
    return {**size, **{k: old_size[k] for k in CARRIED if k in old_size}, "bytes_source": source}


def submission_doc(fam: Family, meta: dict) -> dict:
    """The sealed submission document of a validated family; `meta`: submitter, notes, reported_total_s."""
    sizes = {}
    carried = meta.get("carried") or {}
    for r in fam.runs:
        name = variant_of(r)
        if name not in sizes:
            size = carry(variants.measure(r.manifest), r.manifest, carried.get("id"),
                         carried.get("variants", {}).get(name))
            sizes[name] = {**variants.describe(r.manifest), **size}
    runs = [{"variant": variant_of(r), "task": r.task, "path": f"runs/{variant_of(r)}/{r.task}",
             "files": {n: {"sha256": fam.hashes[r.path][n], "bytes": (r.path / n).stat().st_size}
                       for n in limits.RUN_FILES}}
            for r in sorted(fam.runs, key=lambda r: (variant_of(r) != "base", variant_of(r), r.task))]
    doc = {"schema": SCHEMA, "id": None, "family": fam.name,
           "submitted": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "qdbench_version": __version__, "submitter": meta.get("submitter"), "notes": meta.get("notes"),
           "content_sha256": fam.content_sha256(), "submission_sha256": None, "checks": CHECKS,
           "variants": dict(sorted(sizes.items())), "production": production(fam, sizes, meta.get("reported_total_s")),
           "runs": runs}
    return {**doc, **seal(doc)}


def prepare(families: list[Family], root: Path, meta: dict) -> list[tuple[Family, dict]]:
    """Each family with its submission document, checked against the schema `build` reads it with, and refused
    if `root` holds the same runs already: everything that can fail but the writing itself."""
    known = existing_hashes(root)
    out = []
    for fam in families:
        check_name(fam.name, "family")
        doc = submission_doc(fam, meta)
        schema.check(schema.Submission, doc, Path(f"family '{fam.name}': submission.json"))
        if doc["content_sha256"] in known:
            raise UserError(f"family '{fam.name}': duplicate submission: the same runs are already in "
                            f"{known[doc['content_sha256']]}")
        out.append((fam, doc))
    return out


def accept(prepared: list[tuple[Family, dict]], root: Path) -> list[Path]:
    """Copy each prepared family into `root` as a new submission, all or nothing; returns the folders added."""
    made = [p for p in (root, *root.parents) if not p.exists()]
    root.mkdir(parents=True, exist_ok=True)
    added: list[Path] = []
    staging: list[Path] = []
    try:
        plans = []
        for fam, doc in prepared:
            final = root / fam.name / doc["id"]
            inside(root, final.parent if final.parent.exists() else root)
            tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".staging-{fam.name}-"))
            staging.append(tmp)
            for r in fam.runs:
                dest = tmp / "runs" / variant_of(r) / r.task
                dest.mkdir(parents=True)
                for n in limits.RUN_FILES:
                    shutil.copyfile(r.path / n, dest / n, follow_symlinks=False)
                    if sha256_file(dest / n) != fam.hashes[r.path][n]:
                        raise UserError(f"{r.path / n}: changed while it was being copied; submit again")
            write_json(tmp / "submission.json", doc)
            plans.append((tmp, final))
        for tmp, final in plans:
            final.parent.mkdir(parents=True, exist_ok=True)
            inside(root, final.parent)
            if final.exists():
                raise UserError(f"{final}: already exists; duplicate submission")
            os.replace(tmp, final)
            added.append(final)
    except BaseException as e:
        for p in added:
            shutil.rmtree(p, ignore_errors=True)
            if p.parent.is_dir() and not any(p.parent.iterdir()):
                p.parent.rmdir()
        for tmp in staging:
            shutil.rmtree(tmp, ignore_errors=True)
        for p in made:  # deepest first
            with contextlib.suppress(OSError):
                p.rmdir()
        code = None if isinstance(e, UserError) else write_failure(e)
        if code is not None:
            raise UserError(f"--to {root}: cannot add the submission ({os.strerror(code)}); nothing was added") \
                from None
        raise
    finally:
        for tmp in staging:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return added
