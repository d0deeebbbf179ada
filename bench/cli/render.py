"""Terminal tables for runs: one row per group, one column per metric."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()
if not console.is_terminal:
    console = Console(width=200)


def fmt(value: float | None, digits: int = 3) -> str:
    return "undefined" if value is None else f"{value:.{digits}f}"


def cell(vals: dict, name: str) -> str:
    """The value, with its interval when the metrics carry `<name>_lo` and `<name>_hi`."""
    text = fmt(vals.get(name))
    if f"{name}_lo" in vals and f"{name}_hi" in vals and vals.get(name) is not None:
        text += f" [{fmt(vals[f'{name}_lo'], 2)}, {fmt(vals[f'{name}_hi'], 2)}]"
    return text


def metrics_table(metrics: dict, names: list[str], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("group", no_wrap=True)
    table.add_column("n", justify="right")
    for name in names:
        table.add_column(name, justify="right", overflow="fold")
    table.add_row("overall", str(metrics.get("n_items", "")), *(cell(metrics["metrics"], n) for n in names))
    for field, groups in metrics.get("by_group", {}).items():
        counts = metrics.get("by_group_n", {}).get(field, {})
        for value, vals in groups.items():
            table.add_row(f"{field}={value}", str(counts.get(value, "")), *(cell(vals, n) for n in names))
    return table


def print_run(manifest: dict, metrics: dict, names: list[str]) -> None:
    model = manifest["model"]
    variant = manifest.get("variant") or {}
    title = f"{manifest['task']['name']} · {model['spec']}"
    if variant.get("name") not in (None, "base"):
        title += f" · {variant['name']}"
    console.print(metrics_table(metrics, names, title))
    data = manifest["data"]
    console.print(f"data: {data['origin']} ({data['n_items']} of {data['n_items_available']} items); "
                  f"model {model['kind']} {model['fingerprint'].get('sha256', model.get('revision', ''))[:12]}")
    about = model.get("about") or {}
    if model["kind"] == "builtin" and about.get("random", True):
        console.print("[bold yellow]note: builtin models are random-initialized: their scores are "
                      "meaningless and only show that the pipeline works.[/]")
    elif model["kind"] == "builtin":
        console.print(f"model: {escape(about.get('model', ''))}; weights: {escape(about.get('weights', ''))}")
    if str(manifest["task"].get("options", {}).get("classifier", "")).startswith("builtin:"):
        console.print("[bold yellow]note: the built-in toxicity classifier is random-initialized: its toxicity "
                      "scores are meaningless.[/]")
