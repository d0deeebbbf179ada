"""How findings read: the terminal table and findings.md (every user-given name escaped for Markdown)."""

from __future__ import annotations

import math


def _fmt(v, digits: int = 3, signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:+.{digits}g}" if signed else f"{v:.{digits}g}"



HEAD = ["claim", "variant", "vs", "task · metric", "exp.", "effect [95% CI]", "p", "p Holm", "MDE", "verdict"]


def cells(r: dict) -> list[str]:
    ci = "" if r["ci_low"] is None else f" [{_fmt(r['ci_low'], signed=True)}, {_fmt(r['ci_high'], signed=True)}]"
    eff = "–" if r["effect"] is None else _fmt(r["effect"], signed=True) + ci
    return [r["claim"], r["variant"], r["versus"], f"{r['task']} · {r['metric']}", r["expected"], eff,
            _fmt(r["p_value"], 2), _fmt(r["p_holm"], 2), _fmt(r["mde"]), r["verdict"]]


def markdown(doc: dict) -> str:
    def esc(x: str) -> str:
        return str(x).replace("|", "\\|").replace("\n", " ")
    lines = [f"# Findings: {esc(doc['family'])}", "",
             f"Published claims tested on family `{esc(doc['family'])}`: paired comparisons on the same items, "
             f"{doc['settings']['n_resamples']} resamples, Holm across all rows of all claims, alpha "
             f"{doc['settings']['alpha']}, MDE at power {doc['settings']['power']}. Inconclusive means this size "
             "could not tell; it is never evidence of no effect.", ""]
    for c in doc["claims"]:
        lines += [f"## {esc(c['text'])}", "", f"Source: {esc(c['source'])} · test: {c['test']} · {c['summary']}", ""]
        mine = [r for r in doc["rows"] if r["claim"] == c["id"]]
        lines += ["| " + " | ".join(HEAD[1:] + ["why"]) + " |", "|" + "---|" * len(HEAD)]
        for r in mine:
            lines.append("| " + " | ".join(esc(x) for x in cells(r)[1:] + [r["why"] or ""]) + " |")
        notes = [r for r in mine if r["quality_reading"] or r["evidence"].get("flipped_share") is not None]
        for r in notes:
            if r["quality_reading"]:
                lines.append(f"- {esc(r['variant'])} · {r['task']} {r['metric']}: {esc(r['quality_reading'])}")
            else:
                e = r["evidence"]
                lines.append(f"- {esc(r['variant'])}: {_fmt(e['flipped_share'])} of answers flipped between "
                             f"stereotyped and not ({e['became_biased']} became, {e['stopped_biased']} stopped); "
                             f"aggregate Δ {_fmt(e['aggregate_delta'], signed=True)} "
                             f"[{_fmt(e['aggregate_ci'][0], signed=True)}, {_fmt(e['aggregate_ci'][1], signed=True)}], "
                             f"McNemar p {_fmt(e['aggregate_p'], 2)}")
        lines.append("")
    return "\n".join(lines)


def terminal(doc: dict) -> str:
    rows = [HEAD] + [cells(r) for r in doc["rows"]]
    widths = [min(44, max(len(str(r[i])) for r in rows)) for i in range(len(HEAD))]

    def line(r):
        return "  ".join(str(x)[:w].ljust(w) for x, w in zip(r, widths, strict=True)).rstrip()
    out = [f"findings · family {doc['family']}", line(HEAD), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows[1:]]
    out += ["", *(f"{c['id']}: {c['summary']}" for c in doc["claims"])]
    return "\n".join(out) + "\n"
