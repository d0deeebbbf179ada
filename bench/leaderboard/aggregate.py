"""From verified submissions to the site's data: one row per variant, paired deltas, group detail, provenance.

The deltas and intervals are computed here from the verified items with the project's paired comparison
(bench.compare.report.compare_pair: every metric the task declares), never taken from a submitted file.
Schema `qdbench.leaderboard/1`:
{"schema", "generated", "qdbench_version", "settings", "tasks": {TASK: {"metrics", "headline", "description"}},
 "submissions": [{"id", "family", "submitted", "submitter", "notes", "production", "content_sha256"}],
 "rows": [ROW], "details": {ROW_ID: {TASK: DETAIL}}, "provenance": {ROW_ID: {TASK: {...}}},
 "findings": [{"family", "submission", "placeholder", "doc": qdbench.findings/1 | null, "error": null | why}]}
ROW = {"id", "family", "submission", "placeholder", "variant", "model", "label", "method", "kind", "weight_bits",
       "activation_bits",
       "bytes", "bytes_source", "parameters", "tasks": {TASK: {"n_items", "values": {M: v},
       "deltas": {M: {"delta", "ci_low", "ci_high", "p_value", "p_adjusted", "significant", "mde", "test", "ci"}},
       "skipped": reason | null}}}
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import PurePosixPath

from bench import __version__
from bench.compare.pairing import pair
from bench.compare.report import compare_pair, settings
from bench.errors import UserError
from bench.leaderboard.bundle import variant_of
from bench.leaderboard.submissions import Submission

SCHEMA = "qdbench.leaderboard/1"


def headline(task_name: str, metric_names: list[str]) -> str:
    """The metric a task is ranked by: the one its declaration marks `lead`, else its first `headline` metric,
    else the first reported."""
    from bench.tasks.registry import get_task

    declared = [m for m in get_task(task_name).declared_metrics if m.name in metric_names]
    for m in [*(m for m in declared if m.lead), *(m for m in declared if m.headline)]:
        return m.name
    return metric_names[0] if metric_names else ""


def _task_meta(task_name: str, metric_names: list[str]) -> dict:
    from bench.tasks.registry import get_task

    spec = get_task(task_name).spec
    return {"metrics": metric_names, "headline": headline(task_name, metric_names),
            "description": spec.description, "citation": getattr(spec, "citation", None),
            "group_by": list(spec.group_by)}


def _deltas(comparison: dict) -> dict:
    keep = ("delta", "ci_low", "ci_high", "p_value", "p_adjusted", "significant", "base", "variant", "n_items",
            "mde")
    return {m["name"]: {**{k: m["overall"].get(k) for k in keep}, "test": m["test"], "ci": m["ci"]}
            for m in comparison["metrics"]}


def _detail(run, comparison: dict | None) -> dict:
    out = {"by_group": run.metrics.get("by_group") or {}, "by_group_n": run.metrics.get("by_group_n") or {}}
    if comparison is not None:
        out["compare_by_group"] = {m["name"]: m["by_group"] for m in comparison["metrics"]}
        out["flips"] = comparison["flips"]
    return out


def _provenance(run, sub: Submission) -> dict:
    files = next((r["files"] for r in sub.doc["runs"] if r["variant"] == variant_of(run) and r["task"] == run.task),
                 {})
    return {"manifest": run.manifest, "files": files, "submission": sub.doc["id"]}


def _label(model: dict) -> str:
    """A short model name for the table: a local folder's own name, not the submitter's path to it."""
    spec = str(model.get("spec") or "")
    return PurePosixPath(spec).name or spec if model.get("kind") == "local" else spec


def placeholder(runs) -> bool:
    """A family whose base is a random-initialized built-in model (its numbers mean nothing): from the verified
    manifests, the model's `about.random`, or for runs made before that was recorded, a built-in random model's
    name. The page hides such families unless asked."""
    from bench.models.builtin import BUILTINS

    for run in runs:
        model = run.manifest.get("model") or {}
        about = model.get("about") if isinstance(model.get("about"), dict) else {}
        if about.get("random") is True:
            return True
        spec = str(model.get("spec") or "")
        if not about and model.get("kind") == "builtin" and spec.removeprefix("builtin:") in BUILTINS:
            return True
    return False


def family_findings(sub: Submission, cfg: dict, hidden: bool) -> dict:
    """The published claims tested on this submission's family (bench/compare/findings.py), or why not."""
    from bench.compare.findings import Family, findings

    out = {"family": sub.family.name, "submission": sub.doc["id"], "placeholder": hidden, "doc": None,
           "error": None}
    try:
        doc = findings(Family.of_runs(sub.family.name, sub.family.runs, sub.weight_bytes()), cfg)
    except UserError as e:
        out["error"] = str(e)
        return out
    doc.pop("created", None)
    out["doc"] = doc
    return out


def build_data(subs: list[Submission], n_resamples: int = 2000, seed: int = 0) -> dict:
    cfg = settings(n_resamples, seed, "holm")
    rows, details, provenance, tasks, found = [], {}, {}, {}, []
    for sub in subs:
        fam = sub.family
        hidden = placeholder(fam.runs)
        found.append(family_findings(sub, cfg, hidden))
        for name in sorted({variant_of(r) for r in fam.runs}, key=lambda v: (v != "base", v)):
            runs = sorted((r for r in fam.runs if variant_of(r) == name), key=lambda r: r.task)
            info = sub.variant(name)
            row_id = f"{fam.name}/{sub.doc['id']}/{name}"
            row = {"id": row_id, "family": fam.name, "submission": sub.doc["id"], "placeholder": hidden,
                   "variant": name,
                   "model": runs[0].manifest["model"].get("spec"), "label": _label(runs[0].manifest["model"]),
                   **{k: info.get(k) for k in ("method", "kind", "weight_bits", "activation_bits", "bytes",
                                               "bytes_source", "parameters", "bits_per_param")},
                   "distillation": (info.get("distillation") or {}).get("verdict"), "tasks": {}}
            details[row_id], provenance[row_id] = {}, {}
            for run in runs:
                names = list(run.metrics.get("metrics", {}))
                tasks.setdefault(run.task, _task_meta(run.task, names))
                entry = {"n_items": len(run.items), "values": run.metrics.get("metrics", {}), "deltas": {},
                         "skipped": None}
                comparison = None
                if name != "base":
                    try:
                        comparison = compare_pair(pair(fam.base(run.task), run), cfg)
                    except UserError as e:
                        entry["skipped"] = f"no paired comparison: {e}"
                    else:
                        if comparison["skipped"]:
                            entry["skipped"], comparison = f"no paired comparison: {comparison['skipped']}", None
                        else:
                            entry["deltas"] = _deltas(comparison)
                row["tasks"][run.task] = entry
                details[row_id][run.task] = _detail(run, comparison)
                provenance[row_id][run.task] = _provenance(run, sub)
            rows.append(row)
    return {"schema": SCHEMA, "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "qdbench_version": __version__, "settings": cfg, "tasks": dict(sorted(tasks.items())),
            "submissions": [{k: s.doc.get(k) for k in ("id", "family", "submitted", "submitter", "notes",
                                                       "production", "content_sha256", "qdbench_version")}
                            for s in subs],
            "rows": rows, "details": details, "provenance": provenance, "findings": found}
