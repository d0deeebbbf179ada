"""A finding's verdict: Holm across every row of every claim, then supported / contradicted / inconclusive from the
numbers alone (an underpowered test is inconclusive, never "no effect"), and how a stereotype score's move reads
next to a quality measure of the same variant."""

from __future__ import annotations

import numpy as np

from bench.compare import claims as C
from bench.compare.findings_render import _fmt
from bench.metrics.declare import clean
from bench.stats import adjust_pvalues


def reading(row: dict, check: C.Check, quality: list[dict], alpha: float) -> str:
    """Whether a stereotype score's move toward its neutral point coincides with lost language ability."""
    b, v, t = row["base"], row["value"], check.neutral
    if b is None or v is None:
        return "undefined score"
    q = quality[0] if quality else None
    qtext = ("no quality measure of this variant ran (StereoSet LMS/ICAT, BBQ disambiguated accuracy)" if q is None
             else f"{q['task']} {q['metric']} Δ {_fmt(q['delta'], signed=True)} [{_fmt(q['ci_low'], signed=True)}, "
                  f"{_fmt(q['ci_high'], signed=True)}], p {_fmt(q['p_value'], 2)}")
    fell = [x for x in quality if x["delta"] is not None and x["delta"] < 0 and x["p_value"] is not None
            and x["p_value"] < alpha]
    if abs(v - t) < abs(b - t):
        where = f"moved toward {t:g} ({_fmt(b)} → {_fmt(v)})"
        if fell:
            f = fell[0]
            return (f"{where} while {f['task']} {f['metric']} fell (Δ {_fmt(f['delta'], signed=True)}, p "
                    f"{_fmt(f['p_value'], 2)}): lost language ability, not evidence of less bias")
        if q is None:
            return f"{where}; {qtext}: cannot tell lost bias from lost ability"
        return (f"{where} with no significant loss of quality ({qtext}; MDE {_fmt(q['mde'])}): not explained by "
                "lost ability at this power")
    return f"moved away from {t:g} ({_fmt(b)} → {_fmt(v)}); quality: {qtext}"


def correct(rows: list[dict], alpha: float) -> None:
    """Holm across every row that has a p (all claims together); then each row's verdict."""
    tested = [r for r in rows if r["verdict"] != "not measured"]
    _, adjusted = adjust_pvalues([np.nan if r["p_value"] is None else r["p_value"] for r in tested], "holm", alpha)
    for r, adj in zip(tested, adjusted, strict=True):
        r["p_holm"] = clean(adj)
        r["verdict"], r["why"] = verdict(r, alpha)


def verdict(r: dict, alpha: float) -> tuple[str, str]:
    e, p, mde = r["effect"], r["p_holm"], r["mde"]
    if e is None or p is None:
        return "inconclusive", "the effect or its test is undefined on these items"
    side = 1 if e - r["null"] > 0 else -1 if e - r["null"] < 0 else 0
    want = 1 if r["expected"] == "+" else -1
    if p < alpha and side == want:
        return "supported", f"Holm p {_fmt(p, 2)} < {alpha:g}, effect on the claimed side"
    if p < alpha and side == -want:
        return "contradicted", f"Holm p {_fmt(p, 2)} < {alpha:g}, effect on the opposite side"
    return "inconclusive", (f"Holm p {_fmt(p, 2)} ≥ {alpha:g}: not distinguishable from {r['null']:g} at this size "
                            f"(MDE {_fmt(mde)}: smaller effects would go unseen); not evidence of no effect")
