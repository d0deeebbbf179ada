"""qdbench plan-size --effect D (--discordance Q | --compare compare.json): items needed to detect an effect.

With --discordance: the discordant-pair formula for paired proportions (exact McNemar; Connor 1987), where Q is
the share of items whose outcome differs between base and variant (from a pilot, or a guess) and D a
difference of proportions. With --compare: for every metric of a finished comparison, the items its test
needs for an effect D in that metric's own units, scaled from the minimum detectable effect the comparison
measured (MDE ∝ 1/√n), and for McNemar metrics also the discordant-pair answer from the observed discordance.
"""

from __future__ import annotations

import math
from pathlib import Path

from bench.errors import UserError


def add_parser(sub) -> None:
    p = sub.add_parser("plan-size", help="how many items a paired comparison needs to detect an effect")
    p.add_argument("--effect", type=float, required=True, help="the smallest effect worth detecting (|Δ|)")
    p.add_argument("--discordance", type=float, help="share of items whose outcome differs between the runs")
    p.add_argument("--compare", type=Path, help="a compare.json: plan from the noise it measured")
    p.add_argument("--task", help="with --compare: only this task")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--power", type=float, default=0.8)
    p.set_defaults(func=plan_size)


def _n(value: float) -> str:
    return "unreachable" if not math.isfinite(value) else f"{math.ceil(value):,}"


def plan_size(args) -> int:
    from rich.table import Table

    from bench.cli.render import console
    from bench.stats import power

    if args.effect == 0 or not math.isfinite(args.effect):
        raise UserError(f"--effect must be a non-zero number (got {args.effect})")
    if not 0 < args.alpha < 1 or not 0 < args.power < 1:
        raise UserError("--alpha and --power must lie in (0, 1)")
    if (args.discordance is None) == (args.compare is None):
        raise UserError("give one of --discordance Q or --compare compare.json")
    if args.discordance is not None:
        if not abs(args.effect) <= args.discordance <= 1:
            raise UserError(f"--discordance must lie in [|effect|, 1] (got {args.discordance} for effect "
                            f"{args.effect}): a difference of proportions cannot exceed the discordant share")
        n = power.mcnemar_n(args.effect, args.discordance, args.alpha, args.power)
        print(f"paired proportions, exact McNemar (discordant-pair formula, Connor 1987): {_n(n)} items to "
              f"detect {abs(args.effect)} with discordance {args.discordance} at alpha {args.alpha}, "
              f"power {args.power}")
        return 0
    import json

    try:
        doc = json.loads(args.compare.read_text())
        comparisons = doc["comparisons"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"--compare {args.compare}: not a readable compare.json ({e})") from None
    table = Table(title=f"items needed for |Δ| = {abs(args.effect)} (alpha {args.alpha}, power {args.power})",
                  title_justify="left")
    for col in ("task", "variant", "metric", "test", "n now", "MDE now", "n needed", "n needed (discordant)"):
        table.add_column(col, overflow="fold", justify="left" if col in ("task", "variant", "metric", "test")
                         else "right")
    for c in comparisons:
        if c.get("skipped") or (args.task and c["task"] != args.task):
            continue
        for m in c["metrics"]:
            r = m["overall"]
            mde = power.normal_mde(r.get("se") if r.get("se") is not None else math.nan, args.alpha, args.power)
            need = power.scaled_n(r["n_items"], mde, args.effect)
            disc = ""
            if r.get("discordant") and r["discordant"]["eligible"]:
                q = (r["discordant"]["base_only"] + r["discordant"]["variant_only"]) / r["discordant"]["eligible"]
                disc = _n(power.mcnemar_n(args.effect, q, args.alpha, args.power)) + f" (q={q:.3f})"
            table.add_row(c["task"], str(c["variant"]["label"]), m["name"], m["test"], str(r["n_items"]),
                          "–" if not math.isfinite(mde) else f"{mde:.3g}", _n(need), disc)
    console.print(table)
    console.print("n needed: scaled from the measured bootstrap SE (MDE ∝ 1/√n); the discordant column uses the "
                  "observed share of changed outcomes, in proportion-of-items units.")
    return 0
