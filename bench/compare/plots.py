"""Comparison plots (matplotlib, Agg): per-group forest plots, Δ against model size, transition heatmaps, CKA.

Every figure is written as PNG and SVG, each file atomically.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from bench.store.atomic import write_bytes  # noqa: E402

SIG, NOT_SIG, UNDEF = "#c0392b", "#34495e", "#95a5a6"


def save(fig, stem: Path) -> list[str]:
    """Write stem.png and stem.svg; returns their paths."""
    out = []
    for fmt in ("png", "svg"):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=130, bbox_inches="tight")
        path = stem.with_name(f"{stem.name}.{fmt}")
        write_bytes(path, buf.getvalue())
        out.append(str(path))
    plt.close(fig)
    return out


def _title(comparison: dict) -> str:
    return f"{comparison['task']}: {comparison['variant']['label']} vs {comparison['base']['label']}"


def _headline(comparisons: list[dict]) -> list[str]:
    names: list[str] = []
    for c in comparisons:
        for m in c["metrics"]:
            if m["headline"] and m["name"] not in names:
                names.append(m["name"])
    return names


def plot_forest(task: str, comparisons: list[dict], stem: Path, correction: str) -> list[str]:
    """Per-group forest plot of a task: a row of panels per headline metric, a column per variant, each row's
    panels on one shared x-scale so variants compare at a glance; filled red = significant after correction."""
    comparisons = [c for c in comparisons if c["metrics"]]
    names = _headline(comparisons)
    if not names:
        return []
    labels = ["overall"] + [f"{f}={g}" for f, groups in comparisons[0]["metrics"][0]["by_group"].items()
                            for g in groups]
    nrow, ncol = len(names), len(comparisons)
    height = max(1.8, 0.26 * len(labels) + 1.0)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol + 1.6, height * nrow), squeeze=False,
                             sharey=True, sharex="row")
    for i, name in enumerate(names):
        for j, c in enumerate(comparisons):
            ax = axes[i, j]
            m = next((m for m in c["metrics"] if m["name"] == name), None)
            if m is None:
                ax.set_visible(False)
                continue
            rows = [m["overall"]] + [r for groups in m["by_group"].values() for r in groups.values()]
            y = np.arange(len(rows))[::-1]
            for yi, r in zip(y, rows, strict=True):
                color = SIG if r["significant"] else NOT_SIG
                if r["delta"] is None:
                    ax.plot([0], [yi], marker="x", color=UNDEF)
                    continue
                lo = r["delta"] - (r["ci_low"] if r["ci_low"] is not None else r["delta"])
                hi = (r["ci_high"] if r["ci_high"] is not None else r["delta"]) - r["delta"]
                ax.errorbar(r["delta"], yi, xerr=[[lo], [hi]], fmt="o", color=color, capsize=2, ms=4,
                            markerfacecolor=color if r["significant"] else "white")
            ax.axvline(0, color="#7f8c8d", lw=0.8, ls="--")
            ax.axhline(len(rows) - 1.5, color="#bdc3c7", lw=0.6)
            ax.set_yticks(y, labels[:len(rows)], fontsize=7)
            ax.tick_params(axis="x", labelsize=7)
            ax.grid(axis="x", alpha=0.3)
            if i == 0:
                ax.set_title(c["variant"]["label"], fontsize=9)
            if j == 0:
                ax.set_ylabel(f"{name}\n(p: {m['test']})", fontsize=8)
            if i == nrow - 1:
                ax.set_xlabel("Δ vs base (95% paired bootstrap CI)", fontsize=7)
    fig.suptitle(f"{task}: variant − base per group (filled red: significant, {correction})", fontsize=10)
    fig.tight_layout()
    return save(fig, stem)


def _weight_bytes(size: dict):
    return size.get("weight_bytes") or size.get("bytes")


def plot_size_effect(task: str, comparisons: list[dict], sizes: dict, stem: Path,
                     pairs: list[tuple[str, str]] | None = None) -> list[str]:
    """Δ of each headline metric against bits per parameter and against the bytes of the weights as loaded, one
    point per variant with its interval; quantized and distilled variants as separate series; the base at Δ = 0.
    Each variant pair compared head to head (--equal-memory, --pair) is joined by a dotted line."""
    from bench.compare.table import series as series_of

    comparisons = [c for c in comparisons if c["metrics"]]
    names = _headline(comparisons)
    if not names:
        return []
    base_label = comparisons[0]["base"]["label"]
    fig, axes = plt.subplots(len(names), 2, figsize=(9.0, 2.6 * len(names)), squeeze=False)
    styles = {"quantized": ("#2c7fb8", "o"), "distilled": ("#d95f0e", "s")}
    for i, name in enumerate(names):
        for k, key in enumerate(("bits_per_param", "bytes")):
            ax = axes[i, k]
            def where(label, key=key):
                size = sizes.get(label, {})
                return _weight_bytes(size) if key == "bytes" else size.get(key)
            base_size = where(base_label)
            if base_size:
                ax.plot([base_size], [0.0], marker="*", ms=10, color="black", ls="none", label="base")
            for series, (color, marker) in styles.items():
                pts = []
                for c in comparisons:
                    label = c["variant"]["label"]
                    m = next((m for m in c["metrics"] if m["name"] == name), None)
                    if m is None or not where(label) or series_of(sizes.get(label, {}).get("method")) != series:
                        continue
                    pts.append((where(label), m["overall"], label))
                for n, (x, r, label) in enumerate(sorted(pts, key=lambda t: t[0])):
                    if r["delta"] is None:
                        continue
                    lo = r["delta"] - (r["ci_low"] if r["ci_low"] is not None else r["delta"])
                    hi = (r["ci_high"] if r["ci_high"] is not None else r["delta"]) - r["delta"]
                    ax.errorbar(x, r["delta"], yerr=[[lo], [hi]], fmt=marker, color=color, capsize=3,
                                markerfacecolor=color if r["significant"] else "white",
                                label=series if n == 0 else None)
                    ax.annotate(label, (x, r["delta"]), fontsize=6, xytext=(3, 3), textcoords="offset points")
            deltas = {c["variant"]["label"]: r["overall"]["delta"] for c in comparisons for r in c["metrics"]
                      if r["name"] == name}
            for n, (a, b) in enumerate(pairs or []):
                xy = [(where(x), deltas.get(x)) for x in (a, b)]
                if all(x is not None and y is not None for x, y in xy):
                    ax.plot(*zip(*xy, strict=True), ls=":", lw=1.2, color="#7b3294", zorder=1,
                            label="pair compared" if n == 0 and i == 0 and k == 0 else None)
            ax.axhline(0, color="#7f8c8d", lw=0.8, ls="--")
            if key == "bytes":
                ax.set_xscale("log")
            ax.set_xlabel("bits per parameter" if key == "bits_per_param" else "bytes of weights as loaded",
                          fontsize=8)
            ax.set_ylabel(f"Δ {name}", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            if i == 0 and k == 0:
                ax.legend(fontsize=7)
    fig.suptitle(f"{task}: change against size (95% paired bootstrap CI; filled: significant)", fontsize=10)
    fig.tight_layout()
    return save(fig, stem)


def plot_transitions(comparison: dict, stem: Path) -> list[str]:
    """Heatmaps of base answer kind (rows) -> variant answer kind (columns), overall and per subset."""
    trans = comparison["flips"]["transitions"]
    if not trans:
        return []
    panels = [("all items", trans["overall"])] + [(f"{trans.get('subset_field', 'subset')}={k}", v)
                                                   for k, v in trans["by_subset"].items()]
    cats = trans["categories"]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.9 * len(panels), 3.8), squeeze=False)
    for ax, (name, mat) in zip(axes[0], panels, strict=True):
        m = np.asarray(mat)
        ax.imshow(m, cmap="Blues", vmin=0, vmax=max(1, m.max()))
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                dark = m[i, j] > 0.55 * max(1, m.max())
                changed = i != j and m[i, j] > 0
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=9,
                        color="white" if dark else ("black" if m[i, j] else "#95a5a6"),
                        fontweight="bold" if changed else "normal")
        short = [c.replace("_", "\n") for c in cats]
        ax.set_xticks(range(len(cats)), short, fontsize=8)
        ax.set_yticks(range(len(cats)), short, fontsize=8)
        ax.set_xlabel("variant answer", fontsize=8)
        ax.set_ylabel("base answer", fontsize=8)
        ax.set_title(f"{name} (n={int(m.sum())}, changed={int(m.sum() - np.trace(m))})", fontsize=9)
    fig.suptitle(_title(comparison) + ": answer transitions", fontsize=10)
    fig.tight_layout()
    return save(fig, stem)


def plot_cka(doc: dict, stem: Path) -> list[str]:
    """CKA per layer (x: relative depth of the variant's layer), one line per item subset."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    layers = doc["layers"]
    x = [row["depth"] for row in layers]
    lowest = 1.0
    for name in doc["subsets"]:
        y = [np.nan if row["cka"][name] is None else row["cka"][name] for row in layers]
        if not np.isfinite(y).any():
            continue
        lowest = min(lowest, float(np.nanmin(y)))
        main = name == "all"
        ax.plot(x, y, marker="o", lw=2.4 if main else 1.4, color="black" if main else None,
                zorder=3 if main else 2, label=f"{name} (n={doc['subsets'][name]})")
    ax.set_ylim(max(0.0, np.floor((lowest - 0.02) * 10) / 10), 1.01)
    ax.set_xlabel("relative depth (0 = embeddings, 1 = last layer)")
    ax.set_ylabel("linear CKA (variant vs base)")
    note = " · layers mapped by relative depth" if doc["mapped_by_relative_depth"] else ""
    ax.set_title(f"{doc['task']}: {doc['variant']['spec']} vs {doc['base']['spec']}{note}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, stem)


def plot_mechanism(task: str, docs: list[dict], stem: Path) -> list[str]:
    """CKA against the base per layer (x: the base layer's relative depth), one colour per variant: solid on the
    items the variant answers in the biased way, dashed on the rest of the probe items."""
    docs = [d for d in docs if d["layers"]]
    if not docs:
        return []
    fig, ax = plt.subplots(figsize=(7.2, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    lowest = 1.0
    for n, d in enumerate(docs):
        color = colors[n % len(colors)]
        x = [row["depth"] for row in d["layers"]]
        for name, ls in (("biased_by_variant", "-"), ("rest_by_variant", "--")):
            y = [np.nan if row["cka"].get(name) is None else row["cka"][name] for row in d["layers"]]
            if not np.isfinite(y).any():
                continue
            lowest = min(lowest, float(np.nanmin(y)))
            mapped = " · teacher layers" if d["layer_mapping"] == "teacher_layers" else ""
            ax.plot(x, y, ls=ls, marker="o", ms=3, color=color,
                    label=f"{d['variant']['label']}: {name.split('_')[0]} (n={d['subsets'][name]}){mapped}")
    ax.set_ylim(max(0.0, np.floor((lowest - 0.02) * 10) / 10), 1.01)
    ax.set_xlabel("relative depth of the base layer (0 = embeddings)")
    ax.set_ylabel("linear CKA (variant vs base)")
    ax.set_title(f"{task}: representations on items answered in the biased way (solid) vs the rest (dashed)",
                 fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    return save(fig, stem)
