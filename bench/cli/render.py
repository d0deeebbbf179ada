"""Terminal tables for runs: one row per group, one column per metric."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from bench.console import console


def fmt(value: float | None, digits: int = 3) -> str:
    return "undefined" if value is None else f"{value:.{digits}f}"


def cell(vals: dict, name: str, intervals: dict | None = None) -> str:
    """The value with its interval: the bootstrap interval of metrics.json's `intervals`, else the metric's
    own `<name>_lo` / `<name>_hi` (e.g. a model-based Wald interval)."""
    text = fmt(vals.get(name))
    iv = (intervals or {}).get(name)
    if vals.get(name) is None:
        return text
    if iv and iv.get("low") is not None:
        text += f" [{fmt(iv['low'], 2)}, {fmt(iv['high'], 2)}]"
    elif vals.get(f"{name}_lo") is not None and vals.get(f"{name}_hi") is not None:
        text += f" [{fmt(vals[f'{name}_lo'], 2)}, {fmt(vals[f'{name}_hi'], 2)}]"
    return text


def fitting(names: list[str], width: int, fixed: int = 38) -> list[list[str]]:
    """Split metric names into tables narrow enough for `width`: rich crops a table whose columns cannot
    shrink (a header is one word), so each column is budgeted at its name's length or a value's 18."""
    parts: list[list[str]] = [[]]
    used = fixed
    for name in names:
        need = max(len(name), 18) + 3
        if parts[-1] and used + need > width:
            parts.append([])
            used = fixed
        parts[-1].append(name)
        used += need
    return parts


def metrics_table(metrics: dict, names: list[str], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    labels = ["overall"] + [f"{f}={v}" for f, groups in metrics.get("by_group", {}).items() for v in groups]
    table.add_column("group", overflow="fold", min_width=min(24, max(len(x) for x in labels)))
    table.add_column("n", justify="right")
    for name in names:
        table.add_column(name, justify="right", overflow="fold")
    iv = metrics.get("intervals") or {}
    table.add_row("overall", str(metrics.get("n_items", "")),
                  *(cell(metrics["metrics"], n, iv.get("metrics")) for n in names))
    for field, groups in metrics.get("by_group", {}).items():
        counts = metrics.get("by_group_n", {}).get(field, {})
        for value, vals in groups.items():
            ivg = (iv.get("by_group") or {}).get(field, {}).get(value)
            table.add_row(f"{field}={value}", str(counts.get(value, "")), *(cell(vals, n, ivg) for n in names))
    return table


def print_run(manifest: dict, metrics: dict, names: list[str]) -> None:
    model = manifest["model"]
    variant = manifest.get("variant") or {}
    # a short label: the variant's name, not its cache folder
    if variant.get("name") not in (None, "base"):
        title = f"{manifest['task']['name']} · {variant.get('family') or ''} {variant['name']}".replace("  ", " ")
    else:
        title = f"{manifest['task']['name']} · {model['spec']}"
    generative = metrics.get("mode") == "generate"
    if generative:
        from bench.metrics.reasoning import STAT_NAMES

        names = [n for n in names if n not in STAT_NAMES]
    for i, part in enumerate(fitting(names, console.width)):
        console.print(metrics_table(metrics, part, title if i == 0 else f"{manifest['task']['name']} (continued)"))
    if generative:
        print_generation(metrics)
    iv = metrics.get("intervals")
    if iv:
        console.print(f"[{int(iv['confidence'] * 100)}%: {iv['method'].replace('_', ' ')}, {iv['n_resamples']} "
                      "resamples of each metric's unit (items, prompts, clusters within terms, questions)]")
    data = manifest["data"]
    console.print(f"data: {data['origin']} ({data['n_items']} of {data['n_items_available']} items); "
                  f"model {model['kind']} {model['fingerprint'].get('sha256', model.get('revision', ''))[:12]}")
    about = model.get("about") or {}
    if model["kind"] == "builtin" and about.get("random", True):
        console.print("[bold yellow]note: builtin models are random-initialized: their scores are "
                      "meaningless and only show that the pipeline works.[/]")
    elif model["kind"] == "builtin":
        console.print(f"model: {escape(about.get('model', ''))}; weights: {escape(about.get('weights', ''))}")
    classifier = str(manifest["task"].get("options", {}).get("classifier", ""))
    if classifier == "builtin:profanity-check":
        from bench.models.classifier import PROFANITY_NOTE

        console.print(f"[bold yellow]note: {PROFANITY_NOTE}.[/]")
    elif classifier.startswith("builtin:"):
        console.print("[bold yellow]note: the built-in toxicity classifier is random-initialized: its toxicity "
                      "scores are meaningless.[/]")


def print_generation(metrics: dict) -> None:
    """Parse failures and reasoning statistics of a generative run, overall and per group."""
    from bench.metrics.reasoning import STAT_NAMES

    console.print(metrics_table(metrics, list(STAT_NAMES), "answers and reasoning"))
    counts = ", ".join(f"{k} {v}" for k, v in sorted(metrics.get("parse_status_counts", {}).items()))
    console.print(f"parse status: {counts}; unparseable answers: {metrics.get('unparseable', '')}")
