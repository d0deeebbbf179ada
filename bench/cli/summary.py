"""The side-by-side tables of a family: each variant's size, then per task every variant's overall metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Group
from rich.table import Table

from bench.cli.render import cell, fmt

if TYPE_CHECKING:
    from bench.compress.size import ModelSize


def model_size(path: str) -> tuple[ModelSize, str]:
    """The size of a base or variant folder (bench/compress/size.py, the one measure) and its method."""
    from bench.compress.size import measure
    from bench.compress.variants import read_provenance, student_kind

    size = measure(path)
    prov = read_provenance(path) if path and Path(path).is_dir() else None
    if prov and "recipe" in prov:  # a quantized variant, of the base or of a student ("distilled+gptq")
        return size, student_kind(prov) or prov["recipe"]["method"]
    if prov:  # a distilled student or its non-distilled control: full precision, fewer parameters
        return size, prov.get("kind", "?")
    return size, "none"


def family_table(results, tasks) -> Group:
    """`results`: FamilyRun list; `tasks`: Task objects whose `spec.metrics` name the columns. One table of
    sizes, then one table per task (value and 95% interval per metric), so no table outgrows the terminal."""
    sizes = Table(title="base and variants on identical items", title_justify="left")
    numbers = ("bits/param", "in memory (bytes)", "on disk (bytes)")
    for col in ("family", "variant", "method", *numbers):
        sizes.add_column(col, justify="right" if col in numbers else "left", overflow="fold")
    for r in results:
        size, method = model_size(r.model_path)
        sizes.add_row(r.family, r.variant, method, fmt(size.bits_per_param, 2) if size.bits_per_param else "?",
                      *(f"{n:,}" if n else "?" for n in (size.weights_in_memory, size.bytes_on_disk)))
    out = [sizes]
    for t in tasks:  # metrics down, variants across: a family has few variants and a task many metrics
        table = Table(title=f"{t.name} (95% bootstrap interval)", title_justify="left")
        table.add_column("metric", overflow="fold", min_width=min(36, max(map(len, t.spec.metrics), default=6)))
        docs = []
        for r in results:
            table.add_column(r.variant, justify="right", overflow="fold")
            path = r.run_dirs.get(t.name)
            docs.append(json.loads((path / "metrics.json").read_text()) if path else {})
        for m in t.spec.metrics:
            table.add_row(m, *(cell(d.get("metrics", {}), m, (d.get("intervals") or {}).get("metrics"))
                               for d in docs))
        out.append(table)
    return Group(*out)
