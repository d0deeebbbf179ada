"""`qdbench compare --equal-memory` and `--pair A:B`: which variants of a family to set against each other, the
comparisons (bench/compare/versus.py), and one verdict line per pair.

Each distilled student (a KD student, its non-distilled control, a published student, or a student quantized
afterwards) is paired with the quantized variant of the base nearest to it in weight bytes: the bytes of its
weights as loaded for use, `weights_bytes_in_memory` in its qdbench_variant.json (bench/compress/size.py,
the one size measure; as the run recorded it, or as an accepted submission measured it, where the
folder is not on this machine). Ties go to the smaller variant, then the name. Pairs a user names come on top.

compare.json "variant_pairs": [{"a": MEMBER, "b": MEMBER, "why", "comparisons": [versus.compare_variants doc,
one per task (and settings)], "verdict_tests": [{"task", "metric", "kind": "closeness"|"direct", "delta",
"p_value", "p_adjusted", "significant"}], "verdict"}], MEMBER = {"label", "role": "student"|"quantized",
"method", "weight_bytes", "model"}. The verdict corrects (Holm or BH, as --correction) across the pair's
headline metrics of all tasks, each kind apart; the rows themselves keep their per-group corrections.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bench.compare.pairing import Run, Triple, triple
from bench.compare.versus import compare_variants
from bench.errors import UserError
from bench.stats import adjust_pvalues

STUDENT_METHODS = ("distill", "nds", "published")


@dataclass(frozen=True)
class Member:
    label: str
    role: str  # base | student | quantized
    method: str | None
    weight_bytes: int | None
    model: str | None


def member(run: Run, weight_bytes: int | None = None) -> Member:
    """`weight_bytes`: the size to take where neither the model folder nor the run's manifest has one (an
    accepted submission's measured bytes)."""
    from bench.compress.size import of_run
    from bench.compress.variants import read_provenance, student_kind

    variant = run.manifest.get("variant") or {}
    model = run.manifest.get("model") or {}
    path = str(model.get("path") or "")
    prov = read_provenance(path) if path and Path(path).is_dir() else None
    size = of_run(model).weights_in_memory or weight_bytes
    if variant.get("name") in (None, "base"):
        return Member(run.label, "base", "base", size, path or None)
    method = str((variant.get("recipe") or {}).get("method") or "")
    kind = student_kind(prov)
    student = method.split("+")[0] in STUDENT_METHODS or kind is not None
    return Member(run.label, "student" if student else "quantized", kind or method or None, size, path or None)


def _mb(n: int | None) -> str:
    return "? MB" if n is None else f"{n / 1e6:.1f} MB"


def nearest_pairs(members: list[Member]) -> list[tuple[str, str, str]]:
    """(student, quantized variant, why) for every student: the quantized variant nearest in weight bytes."""
    students = [m for m in members if m.role == "student"]
    quantized = [m for m in members if m.role == "quantized"]
    names = ", ".join(f"{m.label} ({m.role})" for m in members) or "none"
    if not students:
        raise UserError(f"--equal-memory: the family has no distilled students among its variants ({names})")
    known = [q for q in quantized if q.weight_bytes]
    if not known:
        raise UserError(f"--equal-memory: no quantized variant with known weight bytes ({names}); runs made "
                        "before qdbench recorded sizes need their model folders (with qdbench_variant.json) here")
    out = []
    for s in sorted(students, key=lambda m: m.label):
        if not s.weight_bytes:
            raise UserError(f"--equal-memory: the weight bytes of student '{s.label}' are unknown: its run "
                            f"records none and its model folder {s.model} is not here (or has no weights)")
        q = min(known, key=lambda q: (abs(q.weight_bytes - s.weight_bytes), q.weight_bytes, q.label))
        out.append((s.label, q.label, "nearest in weight bytes"))
    return out


def named_pairs(specs: list[str], members: list[Member]) -> list[tuple[str, str, str]]:
    labels = {m.label for m in members if m.role != "base"}
    out = []
    for spec in specs:
        a, sep, b = spec.partition(":")
        if not sep or not a or not b:
            raise UserError(f"--pair '{spec}': expected VARIANT_A:VARIANT_B")
        for name in (a, b):
            if name not in labels:
                raise UserError(f"--pair '{spec}': no variant '{name}' in the runs compared (variants: "
                                f"{', '.join(sorted(labels)) or 'none'})")
        if a == b:
            raise UserError(f"--pair '{spec}': a variant against itself")
        out.append((a, b, "named with --pair"))
    return out


def plan(groups: list[tuple[Run, dict[str, Run]]], equal_memory: bool, specs: list[str],
         known: dict[str, int | None]) -> list[tuple[tuple[Member, Member, str], list[Triple]]]:
    """The pairs to compare (their members and why) and, per pair, its aligned runs in every (task, settings)
    group holding both; every refusal (unknown names, runs that do not pair) before any computation. `known`:
    weight bytes by label where neither folder nor run says (a submission's)."""
    members: dict[str, Member] = {}
    for base, variants in groups:
        for run in [base, *variants.values()]:
            members.setdefault(run.label, member(run, known.get(run.label)))
    pairs = nearest_pairs(list(members.values())) if equal_memory else []
    for p in named_pairs(specs, list(members.values())):
        if p[:2] not in {q[:2] for q in pairs}:
            pairs.append(p)
    out = []
    for a, b, why in pairs:
        trips = [triple(base, variants[a], variants[b]) for base, variants in groups if a in variants and b in
                 variants]
        if not trips:
            raise UserError(f"variants '{a}' and '{b}' never ran the same task under the same settings")
        out.append(((members[a], members[b], why), trips))
    return out


def verdict_tests(comparisons: list[dict], cfg: dict) -> list[dict]:
    """The pair's headline overall tests, corrected across metrics and tasks, each kind apart."""
    out = []
    for kind in ("closeness", "direct"):
        rows = [{"task": c["task"], "metric": m["name"], "kind": kind, "delta": m[kind]["overall"]["delta"],
                 "p_value": m[kind]["overall"]["p_value"]}
                for c in comparisons if not c["skipped"] for m in c["metrics"] if m["headline"]]
        reject, adjusted = adjust_pvalues([np.nan if r["p_value"] is None else r["p_value"] for r in rows],
                                          cfg["correction"], cfg["alpha"])
        for r, rej, adj in zip(rows, reject, adjusted, strict=True):
            r["p_adjusted"] = None if np.isnan(adj) else float(adj)
            r["significant"] = bool(rej)
        out += rows
    return out


def verdict(a: Member, b: Member, why: str, comparisons: list[dict], tests: list[dict], cfg: dict) -> str:
    close = [t for t in tests if t["kind"] == "closeness"]
    closer_a = [f"{t['task']} {t['metric']}" for t in close if t["significant"] and t["delta"] > 0]
    closer_b = [f"{t['task']} {t['metric']}" for t in close if t["significant"] and t["delta"] < 0]
    direct = [t for t in tests if t["kind"] == "direct"]
    n_direct = sum(t["significant"] for t in direct)
    flips = [c["flips"]["overall"] for c in comparisons if not c["skipped"] and c["flips"]]
    n_flip, n_items = sum(f["n_flipped"] for f in flips), sum(f["n_items"] for f in flips)
    head = f"{a.label} ({_mb(a.weight_bytes)}) vs {b.label} ({_mb(b.weight_bytes)}), {why}: "
    if not close:
        return head + "nothing to compare (every task skipped)"
    rest = (f"they differ directly on {n_direct} of {len(direct)}; {n_flip:,} of {n_items:,} answers differ "
            f"between them ({cfg['correction']} across the pair's headline metrics, alpha {cfg['alpha']})")
    if not closer_a and not closer_b:
        return (head + f"neither stays significantly closer to the base on any of {len(close)} headline metrics; "
                + rest + ": a null at this size, not evidence of equal closeness")

    def some(label: str, found: list[str]) -> str:
        return f"{label} on {len(found)}" + (f" ({', '.join(found)})" if found else "")
    return (head + f"closer to the base: {some(a.label, closer_a)}, {some(b.label, closer_b)}, neither on "
            f"{len(close) - len(closer_a) - len(closer_b)} of {len(close)} headline metrics; " + rest)


def compare_pairs(planned: list[tuple[tuple[Member, Member, str], list[Triple]]], cfg: dict,
                  proofs: dict[str, dict] | None = None) -> list[dict]:
    """Each planned pair compared, with its students' `proofs` (distillation_proofs, computed once per family)."""
    proofs = proofs or {}
    out = []
    for (ma, mb, why), trips in planned:
        comparisons = [compare_variants(t, cfg) for t in trips]
        tests = verdict_tests(comparisons, cfg)
        out.append({"a": asdict(ma), "b": asdict(mb), "why": why, "comparisons": comparisons,
                    "verdict_tests": tests, "verdict": verdict(ma, mb, why, comparisons, tests, cfg),
                    "distillation": {m.label: proofs[m.label] for m in (ma, mb) if m.label in proofs}})
    return out


def distillation_proofs(members: list[Member], recorded: dict[str, dict] | None = None) -> dict:
    """Each student's proof of distillation (held-out KL and perplexity, vs its control): measured from its
    folder here, unless the submission its runs come from `recorded` one and this machine cannot compare with the
    control (its folder absent, or its control's): the recorded one is then shown, marked as such."""
    from bench.compress.distill.proof import read_provenance, report

    out = {}
    for m in members:
        if m.role != "student":
            continue
        rec = read_provenance(Path(m.model)) if m.model else None
        here = report(rec) if rec and rec.get("proof") else None
        kept = (recorded or {}).get(m.label)
        if kept and (here is None or (not here.get("versus") and kept.get("versus"))):
            out[m.label] = {**kept, "source": "as recorded in the submission, not measured again here"}
        elif here is not None:
            out[m.label] = here
    return out
