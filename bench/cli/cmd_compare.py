"""qdbench compare BASE_RUN VARIANT_RUN... | qdbench compare --family F (--runs RUNS_DIR | --submission PATH)

Paired comparison of variants against their base for every metric a task declares: deltas with paired
bootstrap intervals, the p of the test each metric names, corrected significance per group, minimum detectable
effects, answer flips; writes compare.json (schema qdbench.compare/1), the long table (compare.csv,
compare.parquet, compare.md, compare.tex) and figures (per-group forest plots, Δ against model size).
A pair whose task declares no metrics is reported as skipped; the others are still compared.
With --equal-memory (each distilled student against the quantized variant nearest in weight bytes) and --pair
A:B, also variant against variant: their direct paired difference and which stays closer to the base
(bench/compare/versus.py), one verdict line per pair (bench/compare/equal_memory.py), in compare.json's
"variant_pairs" and as rows of the long table.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bench.errors import UserError

if TYPE_CHECKING:
    from bench.leaderboard.submissions import Submission


def add_parser(sub) -> None:
    p = sub.add_parser("compare", help="paired comparison of variant runs against a base run")
    p.add_argument("runs", nargs="*", type=Path, help="BASE_RUN VARIANT_RUN [VARIANT_RUN...] (run folders)")
    p.add_argument("--family", help="compare every variant of this family with its base (needs --runs or "
                                    "--submission)")
    p.add_argument("--runs", dest="runs_dir", type=Path, help="runs folder holding the family's runs")
    p.add_argument("--submission", type=Path, help="with --family, instead of --runs: an accepted submission folder "
                                                   "(SUBMISSIONS/FAMILY/ID), verified; its measured sizes pair "
                                                   "--equal-memory where the model folders are not here")
    p.add_argument("--settings", help="with --family: only runs with this settings hash (or its prefix; see "
                                      "`qdbench show --list`)")
    p.add_argument("--out", type=Path, help="output folder (default: RUNS/compare/FAMILY, or ./compare)")
    p.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples and permutations")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--correction", choices=("holm", "bh"), default="holm",
                   help="across the groups of a metric: Holm-Bonferroni (default) or Benjamini-Hochberg")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--power", type=float, default=0.8, help="power for the minimum detectable effects (default 0.8)")
    p.add_argument("--format", choices=("terminal", "md", "latex", "csv", "json"), default="terminal",
                   help="what to print: tables (default), or the long table as Markdown, LaTeX or CSV, or the "
                        "JSON document; all of compare.json/.csv/.parquet/.md/.tex are written either way")
    p.add_argument("--all-metrics", action="store_true", help="print every metric, not only the headline ones")
    p.add_argument("--equal-memory", action="store_true",
                   help="also set each distilled student against the quantized variant nearest to it in weight "
                        "bytes: their direct paired difference and which stays closer to the base")
    p.add_argument("--pair", action="append", default=[], metavar="VARIANT_A:VARIANT_B",
                   help="also compare these two variants that way (repeatable)")
    p.add_argument("--cka", action="store_true",
                   help="mechanism analysis: per-layer linear CKA of each variant against the base on the items "
                        "it answers in a biased way vs the rest (tasks with biased_answers: bbq, hans); loads "
                        "every model")
    p.add_argument("--cka-items", type=int, default=256, help="probe items per task for --cka (default 256)")
    p.add_argument("--cka-pool", choices=("mean", "last"), default="mean", help="pool tokens by mean or last token")
    p.add_argument("--no-plots", action="store_true")
    p.set_defaults(func=compare)


def _slug(text: str) -> str:
    return re.sub(r"[^\w.-]+", "-", text).strip("-") or "run"


def plan(args) -> tuple[list[tuple[Path, Path]], Path, Submission | None]:
    """(base, variant) run folder pairs, the output folder and the submission they come from (with --submission:
    the weight bytes and distillation proofs it measured, for the models not on this machine)."""
    if args.family:
        if args.runs:
            raise UserError("give either run folders or --family with --runs, not both")
        if (args.runs_dir is None) == (args.submission is None):
            raise UserError("--family needs exactly one of --runs RUNS_DIR (the folder holding the family's runs) "
                            "or --submission PATH")
        from bench.compare.family import find_family

        runs_dir, sub, out = args.runs_dir, None, args.out
        if args.submission is not None:
            from bench.leaderboard.submissions import load_family_submission

            sub = load_family_submission(args.submission, args.family)
            runs_dir, out = sub.path / "runs", out or Path("compare") / _slug(args.family)
        found = find_family(runs_dir, args.family, args.settings)
        pairs = [(base, v) for base, variants in found.values() for v in variants]
        return pairs, out or runs_dir / "compare" / _slug(args.family), sub
    if args.runs_dir is not None or args.submission is not None:
        raise UserError("--runs and --submission are for --family; for single runs pass BASE_RUN VARIANT_RUN...")
    if len(args.runs) < 2:
        raise UserError("expected BASE_RUN and at least one VARIANT_RUN (or --family F --runs RUNS_DIR)")
    return [(args.runs[0], v) for v in args.runs[1:]], args.out or Path("compare"), None


def sizes_of(runs, known: dict[str, int | None]) -> dict[str, dict]:
    """Variant label -> method, bits per parameter, bytes of its weight files and of its weights as loaded
    (weight_bytes, the measure of equal memory), None where unknown: bench/compress/size.py, the one measure;
    `known`: weight bytes where neither the folder nor the run says (a submission's)."""
    from bench.cli.summary import model_size
    from bench.compress.size import of_run

    out = {}
    for run in runs:
        model = run.manifest.get("model") or {}
        try:
            size, method = model_size(str(model.get("path") or model.get("spec") or ""))
            if size.weights_in_memory is None:
                size = of_run(model)
            bits, on_disk, weight = size.bits_per_param, size.bytes_on_disk, size.weights_in_memory
        except (OSError, ValueError, KeyError):
            bits, on_disk, weight, method = None, None, None, None
        if method == "none":
            method = None if (run.manifest.get("variant") or {}).get("name") not in (None, "base") else "base"
        out[run.label] = {"method": method, "bits_per_param": bits, "bytes": on_disk,
                          "weight_bytes": weight or known.get(run.label)}
    return out


def cross_task(paired, cfg) -> list[dict]:
    """The MNLI − HANS gap of every variant that has both an MNLI and a HANS comparison."""
    from bench.compare import report

    by = {(p.task, p.variant.label): p for p in paired}
    out = []
    for (task, label), mnli in sorted(by.items()):
        hans = by.get(("hans", label))
        if task == "mnli" and hans is not None and report.task_hooks("mnli") and report.task_hooks("hans"):
            out.append(report.nli_gap(mnli, hans, cfg))
    return out


MIN_CKA_ITEMS = 20


def cka_line(d: dict) -> str:
    """Mean CKA over layers on the items answered in the biased way and on the rest, by the variant's answers."""
    def v(x):
        return "undefined" if x is None else f"{x:.3f}"
    m, n = d["mean_cka"], d["subsets"]
    return (f"CKA · {d['task']} · {d['variant']['label']} vs {d['base']['label']} ({d['layer_mapping']}, "
            f"{d['n_items']} items): mean over layers {v(m['biased_by_variant'])} on the {n['biased_by_variant']} "
            f"answered in the biased way, {v(m['rest_by_variant'])} on the other {n['rest_by_variant']}")


def compare(args) -> int:
    if args.cka_items < MIN_CKA_ITEMS:
        raise UserError(f"--cka-items must be at least {MIN_CKA_ITEMS} (got {args.cka_items})")
    from bench.cli.checks import out_folder, stat_flags

    stat_flags(args.resamples, args.alpha, args.power)

    from bench.compare import equal_memory, mechanism, pairing, report, table
    from bench.compare.render import print_comparison
    from bench.store.atomic import write_json

    pairs, out, sub = plan(args)
    known, recorded = (sub.weight_bytes(), sub.distillation()) if sub else ({}, {})
    out_folder(out)
    cfg = report.settings(args.resamples, args.seed, args.correction, alpha=args.alpha, power=args.power)
    cache: dict[Path, pairing.Run] = {}

    def run(path: Path) -> pairing.Run:
        key = Path(path).resolve()
        if key not in cache:
            cache[key] = pairing.load(path)
        return cache[key]

    paired = [pairing.pair(run(b), run(v)) for b, v in pairs]  # every refusal before any work or output
    if args.cka:
        mechanism.check(paired)
    planned = []
    if args.equal_memory or args.pair:
        groups: dict[Path, tuple] = {}
        for b, v in pairs:
            groups.setdefault(Path(b).resolve(), (run(b), {}))[1][run(v).label] = run(v)
        planned = equal_memory.plan(list(groups.values()), args.equal_memory, args.pair, known)
    terminal = args.format == "terminal"
    comparisons = []
    for p in paired:
        comparison = report.compare_pair(p, cfg)
        comparison["excluded_nonfinite"] = p.excluded_nonfinite
        if p.excluded_nonfinite:
            print(f"note: {p.excluded_nonfinite} items with non-finite scores in {p.base.path} or {p.variant.path} "
                  "are left out of this comparison", file=sys.stderr)
        if terminal:
            print_comparison(comparison, cfg, args.all_metrics)
        comparisons.append(comparison)
    crossed = cross_task(paired, cfg)
    sizes = sizes_of(list(cache.values()), known)
    members = {p.variant.label: equal_memory.member(p.variant, known.get(p.variant.label)) for p in paired}
    proofs = equal_memory.distillation_proofs(list(members.values()), recorded)
    variant_pairs = equal_memory.compare_pairs(planned, cfg, proofs) if planned else []
    mechanism_docs = []
    if args.cka:
        mechanism_docs = mechanism.analyse(paired, limit=args.cka_items, seed=args.seed, pool=args.cka_pool)
    if terminal:
        from bench.compare.render import print_variant_pair

        for vp in variant_pairs:
            print_variant_pair(vp, cfg, args.all_metrics)
    if not args.no_plots:
        from bench.compare.plots import plot_forest, plot_size_effect, plot_transitions

        used: set[str] = set()
        for c in comparisons:
            if c["flips"] and c["flips"]["transitions"]:
                stem = _slug(f"{c['task']}__{c['variant']['label']}")
                while stem in used:
                    stem += "_"
                used.add(stem)
                c["plots"]["transitions"] = plot_transitions(c, out / f"{stem}__transitions")
        for task in sorted({c["task"] for c in comparisons}):
            of_task = [c for c in comparisons if c["task"] == task]
            forest = plot_forest(task, of_task, out / f"{_slug(task)}__forest", args.correction)
            size = plot_size_effect(task, of_task, sizes, out / f"{_slug(task)}__size",
                                    [(vp["a"]["label"], vp["b"]["label"]) for vp in variant_pairs])
            for c in of_task:
                c["plots"].update(forest=forest, size=size)
        from bench.compare.plots import plot_mechanism

        for task in sorted({d["task"] for d in mechanism_docs}):
            of_task = [d for d in mechanism_docs if d["task"] == task]
            paths = plot_mechanism(task, of_task, out / f"{_slug(task)}__cka")
            for d in of_task:
                d["plots"] = paths
    doc = report.document(comparisons, cfg, crossed)
    doc["variant_pairs"] = variant_pairs
    doc["distillation"] = proofs
    if terminal:
        from bench.compress.distill.proof import lines

        for label, proof in doc["distillation"].items():
            print(f"distillation proof of {label}:")
            for line in lines(proof):
                print(f"  {line}")
    doc["mechanism"] = mechanism_docs
    long = table.long_table(doc, args.family, sizes)
    files = table.write_all(long, out, args.correction)
    doc["files"] = files
    write_json(out / "compare.json", doc)
    if terminal:
        for x in crossed:
            r = x["overall"]
            ci = "–" if r["ci_low"] is None else f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]"
            delta = "undefined" if r["delta"] is None else f"{r['delta']:+.3f}"
            print(f"mnli − hans non-entailment gap · {x['variant']['label']}: Δ {delta} {ci} "
                  f"p {r['p_value']} (paired bootstrap of each task, independently)")
        for vp in variant_pairs:
            print(f"verdict · {vp['verdict']}")
        for d in mechanism_docs:
            print(cka_line(d))
        skipped = [c for c in comparisons if c["skipped"]]
        print(f"compared {len(comparisons) - len(skipped)} of {len(comparisons)} pairs"
              + (f"; skipped {len(skipped)} (reasons above and in compare.json)" if skipped else ""))
        print(f"wrote {out / 'compare.json'}, compare.csv, compare.parquet, compare.md, compare.tex"
              + ("" if args.no_plots else " and plots"))
    elif args.format == "md":
        print(table.markdown(long, args.correction), end="")
    elif args.format == "latex":
        print(table.latex(long, args.correction), end="")
    elif args.format == "csv":
        print(table.csv(long), end="")
    else:
        import json

        print(json.dumps(doc, indent=1))
    return 0
