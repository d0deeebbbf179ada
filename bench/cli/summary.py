"""The side-by-side tables of a family: each variant's size, then per task every variant's overall metrics."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Group
from rich.table import Table

from bench.cli.render import cell, fmt


def model_size(path: str) -> tuple[float | None, int | None, str]:
    """(bits per parameter, bytes of weight files, method) of a base or variant folder."""
    from bench.compress.variants import count_parameters, read_provenance, student_kind

    prov = read_provenance(path)
    if prov and "recipe" in prov:  # a quantized variant, of the base or of a student ("distilled+gptq")
        return prov.get("bits_per_param"), prov.get("bytes_on_disk"), student_kind(prov) or prov["recipe"]["method"]
    if prov:  # a distilled student or its non-distilled control: full precision, fewer parameters
        size, params = prov.get("bytes_on_disk"), prov.get("student_parameters")
        return (round(8 * size / params, 3) if size and params else None), size, prov.get("kind", "?")
    folder = Path(path)
    if not folder.is_dir():
        return None, None, "none"
    files = list(folder.glob("*.safetensors"))
    on_disk = sum(p.stat().st_size for p in files)
    params = count_parameters(folder)
    return (round(8 * on_disk / params, 3) if params else None), on_disk, "none"


def family_table(results, tasks) -> Group:
    """`results`: FamilyRun list; `tasks`: Task objects whose `spec.metrics` name the columns. One table of
    sizes, then one table per task (value and 95% interval per metric), so no table outgrows the terminal."""
    sizes = Table(title="base and variants on identical items", title_justify="left")
    for col in ("family", "variant", "method", "bits/param", "size (bytes)"):
        sizes.add_column(col, justify="right" if col in ("bits/param", "size (bytes)") else "left", overflow="fold")
    for r in results:
        bits, size, method = model_size(r.model_path)
        sizes.add_row(r.family, r.variant, method, fmt(bits, 2) if bits else "?", f"{size:,}" if size else "?")
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
