"""The family view in long format: one row per variant × task × metric × group, for CSV, parquet, Markdown
and LaTeX.

Columns: family, task, variant, series (quantized | distilled), method, bits_per_param, bytes, metric,
headline, field, group (field None: overall), n_items, n_counted (the items the metric counts), base, value
(the variant's), delta, ci_low, ci_high, ci_method, resampling, p_value, p_adjusted, significant, test, se,
mde, skipped (the reason, on the one row of a comparison that was not made), comparison, versus,
versus_method, weight_bytes, versus_weight_bytes. Every number is the one in compare.json, unrounded.

`comparison` says what a row compares: "vs_base" (variant − base), or for a pair of variants (compare.json's
variant_pairs; `variant` is A, `versus` is B) "direct" (base = A's value, value = B's, delta = B − A) or
"closeness" (base = |Δ_A|, value = |Δ_B| against the shared base, delta = |Δ_B| − |Δ_A|: positive, A stays
closer). weight_bytes: the bytes of the weights as loaded (the measure of equal memory).
"""

from __future__ import annotations

import io
import math

import pandas as pd

COLUMNS = ["family", "task", "variant", "series", "method", "bits_per_param", "bytes", "metric", "headline",
           "field", "group", "n_items", "n_counted", "base", "value", "delta", "ci_low", "ci_high", "ci_method",
           "resampling", "p_value", "p_adjusted", "significant", "test", "se", "mde", "skipped", "comparison",
           "versus", "versus_method", "weight_bytes", "versus_weight_bytes"]
DISTILLED = ("distilled", "nds")


def series(method: str | None) -> str:
    """A student, also when quantized afterwards ("distilled+gptq"), is of the distilled series."""
    return "distilled" if (method or "").split("+")[0] in DISTILLED else "quantized"


def _rows(meta: dict, metric: dict, field, group, r: dict) -> dict:
    return {**meta, "metric": metric["name"], "headline": metric["headline"], "field": field, "group": group,
            "n_items": r["n_items"], "n_counted": r.get("n_counted"), "base": r["base"], "value": r["variant"],
            "delta": r["delta"],
            "ci_low": r["ci_low"], "ci_high": r["ci_high"], "ci_method": metric["ci"],
            "resampling": metric["resampling"], "p_value": r["p_value"], "p_adjusted": r["p_adjusted"],
            "significant": r["significant"], "test": metric["test"], "se": r.get("se"), "mde": r.get("mde"),
            "skipped": None, "comparison": meta.get("comparison", "vs_base")}


def long_table(doc: dict, family: str | None = None, sizes: dict | None = None) -> pd.DataFrame:
    """compare.json -> the long table; `sizes`: variant label -> {"method", "bits_per_param", "bytes"}."""
    sizes = sizes or {}
    out = []

    def meta(task: str, variant: dict | None) -> dict:
        label = (variant or {}).get("label")
        size = sizes.get(label, {})
        return {"family": family, "task": task, "variant": label, "series": series(size.get("method")),
                "method": size.get("method"), "bits_per_param": size.get("bits_per_param"),
                "bytes": size.get("bytes"), "weight_bytes": size.get("weight_bytes")}

    for c in doc["comparisons"]:
        m = meta(c["task"], c["variant"])
        if c.get("skipped"):
            out.append({**m, "metric": None, "skipped": c["skipped"]})
            continue
        for metric in c["metrics"]:
            out.append(_rows(m, metric, None, "overall", metric["overall"]))
            for field, groups in metric["by_group"].items():
                for g, r in groups.items():
                    out.append(_rows(m, metric, field, g, r))
    for x in doc.get("cross_task", []):
        m = meta("+".join(x["tasks"]), x["variant"])
        out.append(_rows(m, x, None, "overall", x["overall"]))
        for field, groups in x.get("by_group", {}).items():
            for g, r in groups.items():
                out.append(_rows(m, x, field, g, r))
    for vp in doc.get("variant_pairs", []):
        for c in vp["comparisons"]:
            m = meta(c["task"], vp["a"])
            other = sizes.get(vp["b"]["label"], {})
            m.update(versus=vp["b"]["label"], versus_method=other.get("method", vp["b"].get("method")),
                     versus_weight_bytes=other.get("weight_bytes", vp["b"].get("weight_bytes")))
            if c.get("skipped"):
                out.append({**m, "metric": None, "skipped": c["skipped"], "comparison": "direct"})
                continue
            for metric in c["metrics"]:
                for kind in ("direct", "closeness"):
                    part = metric[kind]
                    info = {**metric, "test": part.get("test", metric["test"])}
                    out.append(_rows({**m, "comparison": kind}, info, None, "overall", part["overall"]))
                    for field, groups in part["by_group"].items():
                        for g, r in groups.items():
                            out.append(_rows({**m, "comparison": kind}, info, field, g, r))
    return pd.DataFrame(out, columns=COLUMNS)


def _num(v, digits: int = 3, signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def _p(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.1e}" if v < 1e-3 else f"{v:.3f}"


def display_frame(table: pd.DataFrame, headline_only: bool = True) -> pd.DataFrame:
    """Formatted strings for Markdown / LaTeX: interval, p, adjusted p and the test that gave it."""
    t = table[table["skipped"].isna()]
    if headline_only:
        t = t[t["headline"].fillna(False).astype(bool)]
    rows = []
    for r in t.itertuples(index=False):
        n = r.n_items if pd.isna(r.n_counted) else int(r.n_counted)
        kind = r.comparison if isinstance(r.comparison, str) else "vs_base"
        rows.append({"task": r.task, "variant": r.variant if kind == "vs_base" else f"{r.variant} vs {r.versus}",
                     "metric": r.metric + PAIR_SUFFIX.get(kind, ""),
                     "group": "overall" if r.field is None or (isinstance(r.field, float) and math.isnan(r.field))
                     else f"{r.field}={r.group}", "n": str(n), "base": _num(r.base), "variant value":
                     _num(r.value), "Δ": _num(r.delta, signed=True),
                     "95% CI": "–" if r.ci_low is None or pd.isna(r.ci_low) else
                     f"[{_num(r.ci_low, signed=True)}, {_num(r.ci_high, signed=True)}]",
                     "p": _p(r.p_value), "p adj.": _p(r.p_adjusted), "sig": "*" if r.significant else "",
                     "test": r.test})
    return pd.DataFrame(rows, columns=["task", "variant", "metric", "group", "n", "base", "variant value", "Δ",
                                       "95% CI", "p", "p adj.", "sig", "test"])


PAIR_SUFFIX = {"direct": " (B − A)", "closeness": " (|Δ_B| − |Δ_A|)"}


def _skips(table: pd.DataFrame) -> list[str]:
    s = table[table["skipped"].notna()]
    return [f"{r.task} · {r.variant}: skipped — {r.skipped}" for r in s.itertuples(index=False)]


def markdown(table: pd.DataFrame, correction: str = "holm") -> str:
    d = display_frame(table)

    def esc(x: str) -> str:
        return str(x).replace("|", "\\|")
    lines = ["| " + " | ".join(d.columns) + " |", "|" + "|".join("---" for _ in d.columns) + "|"]
    lines += ["| " + " | ".join(esc(v) for v in row) + " |" for row in d.itertuples(index=False)]
    notes = [f"Δ = variant − base. 95% CI: paired bootstrap (percentile) over each metric's resampling unit; "
             f"p: the named test (mcnemar_exact, paired_permutation or paired_bootstrap); p adj.: {correction} "
             "across the groups of one metric and field; * = significant after correction."]
    if table["comparison"].isin(list(PAIR_SUFFIX)).any():
        notes.append("A vs B rows: (B − A) is the direct paired difference (base column: A, variant value: B); "
                     "(|Δ_B| − |Δ_A|) compares their distances from the shared base (base column: |Δ_A|, variant "
                     "value: |Δ_B|; positive: A stays closer), p from a paired permutation swapping A and B "
                     "(the paired bootstrap where the metric declares it).")
    return "\n".join(lines + [""] + notes + [f"- {s}" for s in _skips(table)]) + "\n"


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
          "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "Δ": r"$\Delta$", "–": "--"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in str(text))


def latex(table: pd.DataFrame, correction: str = "holm") -> str:
    d = display_frame(table)
    buf = io.StringIO()
    buf.write("% requires \\usepackage{booktabs}\n\\begin{tabular}{" + "l" * 4 + "r" * 7 + "cl}\n\\toprule\n")
    buf.write(" & ".join(latex_escape(c) for c in d.columns) + " \\\\\n\\midrule\n")
    for row in d.itertuples(index=False):
        buf.write(" & ".join(latex_escape(v) for v in row) + " \\\\\n")
    buf.write("\\bottomrule\n\\end{tabular}\n")
    buf.write(latex_escape(f"% CI: paired bootstrap; p: named test; p adj.: {correction}") + "\n")
    return buf.getvalue()


def csv(table: pd.DataFrame) -> str:
    return table.to_csv(index=False)


def write_all(table: pd.DataFrame, out, correction: str) -> dict[str, str]:
    """compare.csv, compare.parquet, compare.md and compare.tex next to compare.json (each atomic)."""
    from bench.store.atomic import write_bytes

    paths = {}
    for name, data in (("csv", csv(table).encode()), ("md", markdown(table, correction).encode()),
                       ("tex", latex(table, correction).encode())):
        path = out / f"compare.{name}"
        write_bytes(path, data)
        paths[name] = str(path)
    buf = io.BytesIO()
    table.to_parquet(buf, index=False)
    write_bytes(out / "compare.parquet", buf.getvalue())
    paths["parquet"] = str(out / "compare.parquet")
    return paths
