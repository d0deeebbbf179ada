"""Terminal tables for a comparison: one row per metric and group, significant rows marked."""

from __future__ import annotations

from rich import box
from rich.markup import escape
from rich.table import Table

from bench.console import console


def _f(v, digits: int = 3, signed: bool = False) -> str:
    if v is None:
        return "undefined"
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def _p(v) -> str:
    if v is None:
        return "–"
    return f"{v:.1e}" if v < 1e-3 else f"{v:.3f}"


TESTS = {"mcnemar_exact": "McNemar", "paired_permutation": "permutation", "paired_bootstrap": "bootstrap"}


def metrics_table(comparison: dict, settings: dict, all_metrics: bool = False) -> Table:
    """One section per metric: its name and test on the overall row, then one row per group. Column minimum
    widths sum to less than 120, so rich wraps long cells instead of cropping columns."""
    conf = int(round(settings["confidence"] * 100))
    title = (f"{comparison['task']} · {comparison['variant']['label']} vs {comparison['base']['label']} · "
             f"{comparison['n_items']} paired items")
    table = Table(title=escape(title), title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    shown = [m for m in comparison["metrics"] if all_metrics or m["headline"]]
    labels = [m["name"] for m in shown] + [f"  {f}={g}" for m in shown for f, gs in m["by_group"].items() for g in gs]
    table.add_column("metric (test) · group", overflow="fold", min_width=min(24, max(map(len, labels), default=6)))
    for name in ("n", "base", "variant", "Δ", f"{conf}% CI", "p", f"p {settings['correction']}", "sig", "MDE"):
        table.add_column(name, justify="center" if name == "sig" else "right", overflow="fold")
    hidden = 0
    for m in shown:
        groups = [(f"  {f}={g}", r) for f, gs in m["by_group"].items() for g, r in gs.items()]
        # a group where the metric is undefined for both models (a gap between groups, within one) says nothing
        defined = [(label, r) for label, r in groups if r["base"] is not None or r["variant"] is not None]
        hidden += len(groups) - len(defined)
        rows = [(f"{m['name']} ({TESTS.get(m['test'], m['test'])})", m["overall"]), *defined]
        for i, (label, r) in enumerate(rows):
            ci = "–" if r["ci_low"] is None else f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]"
            n = r.get("n_counted", r["n_items"])
            table.add_row(f"[bold]{escape(label)}[/]" if i == 0 else escape(label), str(n),
                          _f(r["base"]), _f(r["variant"]), _f(r["delta"], signed=True), escape(ci),
                          _p(r["p_value"]), _p(r["p_adjusted"]), "*" if r["significant"] else "", _f(r.get("mde")),
                          style="bold red" if r["significant"] else None, end_section=i == len(rows) - 1)
    if hidden:
        table.caption = f"{hidden} group rows not shown: the metric is undefined there for both models"
        table.caption_justify = "left"
    return table


def summary_line(comparison: dict, settings: dict) -> str:
    parts = []
    for m in comparison["metrics"]:
        if not m["headline"]:
            continue
        for field, n in m["n_significant_groups"].items():
            parts.append(f"{m['name']} by {field} {n}/{m['n_groups_tested'][field]}")
    return (f"significantly affected {', '.join(comparison['group_fields']) or 'groups'} "
            f"({settings['correction']}, alpha {settings['alpha']}): " + ("; ".join(parts) or "no groups") +
            ". CI: paired bootstrap over each metric's unit; p: the test named; MDE: smallest |Δ| detectable "
            f"at {int(settings.get('power', 0.8) * 100)}% power with these items.")


def flips_table(comparison: dict) -> Table:
    flips = comparison["flips"]
    has_kinds = flips["transitions"] is not None
    table = Table(title="answer flips", title_justify="left")
    names = ["group", "n", "flipped", "flip rate"] + (["→ biased", "biased →"] if has_kinds else [])
    for name in names:
        table.add_column(name, justify="left" if name == "group" else "right")
    rows = [("overall", flips["overall"])] + [(f"{f}={g}", r) for f, gs in flips["by_group"].items()
                                              for g, r in gs.items()]
    for name, r in rows:
        cells = [escape(name), str(r["n_items"]), str(r["n_flipped"]), _f(r["flip_rate"])]
        if has_kinds:
            cells += [str(r["became_biased"]), str(r["stopped_biased"])]
        table.add_row(*cells)
    return table


def transitions_table(comparison: dict) -> Table | None:
    trans = (comparison["flips"] or {}).get("transitions")
    if not trans:
        return None
    cats = trans["categories"]
    table = Table(title="answer transitions (rows: base, columns: variant)", title_justify="left")
    table.add_column("items")
    table.add_column("base \\ variant")
    for c in cats:
        table.add_column(c, justify="right")
    panels = [("all", trans["overall"])] + list(trans["by_subset"].items())
    for p, (name, mat) in enumerate(panels):
        for i, c in enumerate(cats):
            table.add_row(name if i == 0 else "", c,
                          *(f"[bold]{v}[/]" if i != j and v else str(v) for j, v in enumerate(mat[i])),
                          end_section=i == len(cats) - 1 and p < len(panels) - 1)
    return table


def print_comparison(comparison: dict, settings: dict, all_metrics: bool = False) -> None:
    if comparison.get("skipped"):
        label = str((comparison["variant"] or {}).get("label"))
        console.print(f"[yellow]{escape(comparison['task'])} · {escape(label)}: skipped — "
                      f"{escape(comparison['skipped'])}[/]")
        return
    if comparison["same_weights"]:
        console.print("[yellow]note: base and variant have identical weights[/]")
    console.print(metrics_table(comparison, settings, all_metrics))
    console.print(summary_line(comparison, settings))
    if comparison["flips"] is not None:
        console.print(flips_table(comparison))
    trans = transitions_table(comparison)
    if trans is not None:
        console.print(trans)
    if (comparison["flips"] or {}).get("reasoning"):
        console.print(reasoning_line(comparison["flips"]["reasoning"]))


def reasoning_line(flips: dict) -> str:
    """The flipped answers of a generative pair with their change in reasoning length."""
    return (f"flipped answers: {flips['n_flipped']}, Δ reasoning {_f(flips['reasoning_delta_mean_flipped'], 1, True)}"
            f" tokens (unflipped {_f(flips['reasoning_delta_mean_unflipped'], 1, True)}); shorter "
            f"{flips['flipped_with_shorter_reasoning']}, longer {flips['flipped_with_longer_reasoning']}; "
            f"became unparseable {flips['became_unparseable']}, parseable {flips['became_parseable']}")


def variant_pair_table(c: dict, settings: dict, all_metrics: bool = False) -> Table:
    """Variant against variant on one task: the direct difference B − A and which stays closer to the base
    (|Δ_B| − |Δ_A|, positive: A closer); overall rows, and the group rows where either test is significant."""
    a, b = c["a"]["label"], c["b"]["label"]
    conf = int(round(settings["confidence"] * 100))
    title = (f"{c['task']} · {a} (A) vs {b} (B) · {c['n_items']} paired items · |Δ_X| = distance from "
             f"{c['base']['label']}; |Δ_B| − |Δ_A| > 0: A stays closer")
    table = Table(title=escape(title), title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("metric (test) · group", overflow="fold", min_width=18)
    for name in ("A", "B", f"B − A [{conf}% CI]", "p", "|Δ_A|", "|Δ_B|", f"|Δ_B| − |Δ_A| [{conf}% CI]", "p ",
                 "closer"):
        table.add_column(name, justify="right", overflow="fold")

    def est(r):
        ci = "" if r["ci_low"] is None else f" [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]"
        return escape(_f(r["delta"], signed=True) + ci)

    def p(r):
        return _p(r["p_adjusted"]) + ("*" if r["significant"] else "")

    for m in c["metrics"]:
        if not (all_metrics or m["headline"]):
            continue
        rows = [(f"{m['name']} ({TESTS.get(m['test'], m['test'])})", m["direct"]["overall"],
                 m["closeness"]["overall"])]
        for field, groups in m["direct"]["by_group"].items():
            for g, d in groups.items():
                k = m["closeness"]["by_group"][field][g]
                if d["significant"] or k["significant"]:
                    rows.append((f"  {field}={g}", d, k))
        for i, (label, d, k) in enumerate(rows):
            closer = {"a": a, "b": b}.get(k.get("closer") or "", "")
            table.add_row(f"[bold]{escape(label)}[/]" if i == 0 else escape(label), _f(d["base"]), _f(d["variant"]),
                          est(d), p(d), _f(k["base"]), _f(k["variant"]), est(k), p(k), escape(closer),
                          style="bold red" if d["significant"] or k["significant"] else None,
                          end_section=i == len(rows) - 1)
    return table


def print_variant_pair(vp: dict, settings: dict, all_metrics: bool = False) -> None:
    console.print(f"[bold]{escape(vp['a']['label'])} vs {escape(vp['b']['label'])}[/] ({escape(vp['why'])})")
    for c in vp["comparisons"]:
        if c["skipped"]:
            console.print(f"[yellow]{escape(c['task'])}: skipped — {escape(c['skipped'])}[/]")
            continue
        console.print(variant_pair_table(c, settings, all_metrics))
        if c["flips"]:
            f = c["flips"]["overall"]
            console.print(f"answers that differ between them: {f['n_flipped']} of {f['n_items']}")
    for label, proof in (vp.get("distillation") or {}).items():
        from bench.compress.distill.proof import lines

        console.print(f"distillation proof of {escape(label)}:")
        for line in lines(proof):
            console.print("  " + escape(line))
    console.print(f"p: the metric's test (B − A) and a paired permutation swapping A and B per unit (closer; the "
                  "paired bootstrap where the metric declares it), "
                  f"{settings['correction']}-corrected across groups; * significant; CI: paired bootstrap.")
