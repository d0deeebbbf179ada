"""qdbench compare BASE_RUN VARIANT_RUN... | qdbench compare --family F --runs RUNS_DIR

Paired comparison of variants against their base: deltas with bootstrap intervals, p-values, corrected
significance per group, answer flips; writes compare.json (schema qdbench.compare/1) and plots.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.errors import UserError


def add_parser(sub) -> None:
    p = sub.add_parser("compare", help="paired comparison of variant runs against a base run")
    p.add_argument("runs", nargs="*", type=Path, help="BASE_RUN VARIANT_RUN [VARIANT_RUN...] (run folders)")
    p.add_argument("--family", help="compare every variant of this family with its base (needs --runs)")
    p.add_argument("--runs", dest="runs_dir", type=Path, help="runs folder holding the family's runs")
    p.add_argument("--settings", help="with --family: only runs with this settings hash (or its prefix; see "
                                      "`qdbench show --list`)")
    p.add_argument("--out", type=Path, help="output folder (default: RUNS/compare/FAMILY, or ./compare)")
    p.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples and permutations")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--correction", choices=("holm", "bh"), default="holm",
                   help="across the groups of a metric: Holm-Bonferroni (default) or Benjamini-Hochberg")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--no-plots", action="store_true")
    p.set_defaults(func=compare)


def _slug(text: str) -> str:
    return re.sub(r"[^\w.-]+", "-", text).strip("-") or "run"


def plan(args) -> tuple[list[tuple[Path, Path]], Path]:
    """(base, variant) run folder pairs and the output folder, from the arguments."""
    if args.family:
        if args.runs:
            raise UserError("give either run folders or --family with --runs, not both")
        if args.runs_dir is None:
            raise UserError("--family needs --runs RUNS_DIR (the folder holding the family's runs)")
        from bench.compare.family import find_family

        found = find_family(args.runs_dir, args.family, args.settings)
        pairs = [(base, v) for base, variants in found.values() for v in variants]
        return pairs, args.out or args.runs_dir / "compare" / _slug(args.family)
    if args.runs_dir is not None:
        raise UserError("--runs is for --family; for single runs pass BASE_RUN VARIANT_RUN...")
    if len(args.runs) < 2:
        raise UserError("expected BASE_RUN and at least one VARIANT_RUN (or --family F --runs RUNS_DIR)")
    return [(args.runs[0], v) for v in args.runs[1:]], args.out or Path("compare")


def compare(args) -> int:
    if args.resamples < 1:
        raise UserError(f"--resamples must be positive (got {args.resamples})")
    if not 0 < args.alpha < 1:
        raise UserError(f"--alpha must lie in (0, 1) (got {args.alpha})")
    from bench.cli.checks import out_folder
    from bench.compare import pairing, report
    from bench.compare.render import print_comparison
    from bench.store.atomic import write_json

    pairs, out = plan(args)
    out_folder(out)
    cfg = report.settings(args.resamples, args.seed, args.correction, alpha=args.alpha)
    cache: dict[Path, pairing.Run] = {}

    def run(path: Path) -> pairing.Run:
        key = Path(path).resolve()
        if key not in cache:
            cache[key] = pairing.load(path)
        return cache[key]

    paired = [pairing.pair(run(b), run(v)) for b, v in pairs]  # every refusal before any work or output
    comparisons = []
    for p in paired:
        comparison = report.compare_pair(p, cfg)
        print_comparison(comparison, cfg)
        comparisons.append(comparison)
    if not args.no_plots:
        from bench.compare.plots import plot_deltas, plot_transitions

        used: set[str] = set()
        for c in comparisons:
            stem = _slug(f"{c['task']}__{c['variant']['label']}")
            while stem in used:
                stem += "_"
            used.add(stem)
            c["plots"] = {"deltas": plot_deltas(c, out / f"{stem}__deltas", args.correction),
                          "transitions": plot_transitions(c, out / f"{stem}__transitions")}
    doc = report.document(comparisons, cfg)
    write_json(out / "compare.json", doc)
    print(f"wrote {out / 'compare.json'}" + ("" if args.no_plots else " and plots"))
    return 0
