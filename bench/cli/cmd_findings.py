"""qdbench findings --family F (--runs RUNS_DIR | --submission PATH)

Tests the published claims about compressed models (bench/compare/claims.py) on one family: per claim, variant
and metric the effect with its paired interval, the p of the test, Holm across the claims, the minimum detectable
effect and a verdict (supported / contradicted / inconclusive at this power / not measured, with the reason).
Writes findings.json (schema qdbench.findings/1) and findings.md, and prints the table.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.errors import UserError


def add_parser(sub) -> None:
    p = sub.add_parser("findings", help="test the published claims about compression on one family")
    p.add_argument("--family", required=True, help="the family's name (as its runs' manifests give it)")
    p.add_argument("--runs", dest="runs_dir", type=Path, help="runs folder holding the family's runs")
    p.add_argument("--submission", type=Path, help="an accepted submission folder (SUBMISSIONS/FAMILY/ID)")
    p.add_argument("--settings", help="with --runs: only runs with this settings hash (or its prefix)")
    p.add_argument("--out", type=Path, help="output folder (default: RUNS/findings/FAMILY, or ./findings/FAMILY)")
    p.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples and permutations")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--power", type=float, default=0.8, help="power for the minimum detectable effects")
    p.set_defaults(func=findings)


def _slug(text: str) -> str:
    return re.sub(r"[^\w.-]+", "-", text).strip("-") or "family"


def load_family(args):
    from bench.compare.findings import Family

    if (args.runs_dir is None) == (args.submission is None):
        raise UserError("findings needs exactly one of --runs RUNS_DIR or --submission PATH")
    if args.runs_dir is not None:
        return Family.of_folder(args.runs_dir, args.family, args.settings)
    if args.settings:
        raise UserError("--settings is for --runs; a submission holds one setting per task")
    from bench.leaderboard.submissions import load_family_submission

    sub = load_family_submission(args.submission, args.family)
    return Family.of_runs(args.family, sub.family.runs, sub.weight_bytes())


def findings(args) -> int:
    from bench.cli.checks import out_folder, stat_flags

    stat_flags(args.resamples, args.alpha, args.power)

    from bench.compare import findings as F
    from bench.compare.report import settings
    from bench.store.atomic import write_bytes, write_json

    out = args.out or ((args.runs_dir / "findings" if args.runs_dir else Path("findings")) / _slug(args.family))
    out_folder(out)
    fam = load_family(args)
    doc = F.findings(fam, settings(args.resamples, args.seed, "holm", alpha=args.alpha, power=args.power))
    write_json(out / "findings.json", doc)
    write_bytes(out / "findings.md", F.markdown(doc).encode())
    print(F.terminal(doc), end="")
    print(f"wrote {out / 'findings.json'} and findings.md")
    return 0
