"""Terminal tables for a comparison: one row per metric and group, significant rows marked."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from bench.cli.render import console


def _f(v, digits: int = 3, signed: bool = False) -> str:
    if v is None:
        return "undefined"
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def _p(v) -> str:
    if v is None:
        return "–"
    return f"{v:.1e}" if v < 1e-3 else f"{v:.3f}"


def metrics_table(comparison: dict, settings: dict) -> Table:
    conf = int(round(settings["confidence"] * 100))
    title = (f"{comparison['task']} · {comparison['variant']['label']} vs {comparison['base']['label']} · "
             f"{comparison['n_items']} paired items")
    table = Table(title=escape(title), title_justify="left")
    for name, justify in (("metric", "left"), ("group", "left"), ("n", "right"), ("base", "right"),
                          ("variant", "right"), ("Δ", "right"), (f"{conf}% CI", "right"), ("p", "right"),
                          (f"p ({settings['correction']})", "right"), ("sig", "center")):
        table.add_column(name, justify=justify)
    for m in comparison["metrics"]:
        rows = [("overall", m["overall"])] + [(f"{f}={g}", r) for f, gs in m["by_group"].items()
                                              for g, r in gs.items()]
        for i, (group, r) in enumerate(rows):
            ci = "–" if r["ci_low"] is None else f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]"
            table.add_row(m["name"] if i == 0 else "", escape(group), str(r["n_items"]), _f(r["base"]),
                          _f(r["variant"]), _f(r["delta"], signed=True), escape(ci), _p(r["p_value"]),
                          _p(r["p_adjusted"]),
                          "*" if r["significant"] else "", style="bold red" if r["significant"] else None,
                          end_section=i == len(rows) - 1)
    return table


def summary_line(comparison: dict, settings: dict) -> str:
    parts = []
    for m in comparison["metrics"]:
        for field, n in m["n_significant_groups"].items():
            parts.append(f"{m['name']} {n}/{m['n_groups_tested'][field]}")
    return (f"significantly affected {', '.join(comparison['group_fields']) or 'groups'} "
            f"({settings['correction']}, alpha {settings['alpha']}): " + "; ".join(parts))


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
    trans = comparison["flips"]["transitions"]
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


def print_comparison(comparison: dict, settings: dict) -> None:
    if comparison["same_weights"]:
        console.print("[yellow]note: base and variant have identical weights[/]")
    console.print(metrics_table(comparison, settings))
    console.print(summary_line(comparison, settings))
    console.print(flips_table(comparison))
    trans = transitions_table(comparison)
    if trans is not None:
        console.print(trans)
    if comparison.get("reasoning"):
        console.print(reasoning_table(comparison["reasoning"]))


def reasoning_table(doc: dict) -> Table:
    """Paired changes in reasoning and parsing, and the flipped answers with their reasoning-length change."""
    table = Table(title="reasoning (variant − base, paired)", title_justify="left")
    for col in ("statistic", "base", "variant", "Δ", "95% CI"):
        table.add_column(col, justify="left" if col == "statistic" else "right")
    for name, r in doc["deltas"].items():
        table.add_row(name, _f(r["base"]), _f(r["variant"]), _f(r["delta"], signed=True),
                      f"[{_f(r['ci_low'])}, {_f(r['ci_high'])}]")
    flips = doc["flips"]
    table.add_row("answers flipped", "", "", str(flips["n_flipped"]),
                  f"Δ reasoning {_f(flips['reasoning_delta_mean_flipped'], signed=True)} tokens "
                  f"(unflipped {_f(flips['reasoning_delta_mean_unflipped'], signed=True)}); "
                  f"shorter {flips['flipped_with_shorter_reasoning']}, longer {flips['flipped_with_longer_reasoning']}")
    if "became_wrong" in flips:
        table.add_row("became wrong / right", "", "", f"{flips['became_wrong']} / {flips['became_right']}",
                      f"Δ reasoning {_f(flips['reasoning_delta_mean_became_wrong'], signed=True)} / "
                      f"{_f(flips['reasoning_delta_mean_became_right'], signed=True)}")
    return table
