"""qdbench cka BASE VARIANT --task T [--limit N] [--out DIR]: linear CKA of hidden states, layer by layer."""

from __future__ import annotations

import re
from pathlib import Path

from bench.errors import UserError


def add_parser(sub) -> None:
    p = sub.add_parser("cka", help="representation similarity (linear CKA per layer) of base and variant")
    p.add_argument("base", help="base model: builtin:NAME, a local model folder, or a hub id")
    p.add_argument("variant", help="variant model, same forms")
    p.add_argument("--task", required=True, help="task whose items are the probe set")
    p.add_argument("--limit", type=int, default=256, help="probe items (seeded, group-stratified; default 256)")
    p.add_argument("--data-dir", type=Path, help="read the task's published files from this folder")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--pool", choices=("mean", "last"), default="mean", help="pool tokens by mean or last token")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="auto", help="auto (fp32 on CPU, bf16 on CUDA), float32, bfloat16, float16")
    p.add_argument("--out", type=Path, default=Path("cka"), help="output folder (default ./cka)")
    p.add_argument("--no-plots", action="store_true")
    p.set_defaults(func=cka)


def probe_frame(task, docs):
    """Items-like rows (task fields, item_fields, gold) for choosing subsets, without running a model."""
    import pandas as pd

    rows = []
    for d in docs:
        row = task.base_row(d)
        if task.spec.prompt.gold and task.spec.prompt.gold in d:
            row["gold"] = int(d[task.spec.prompt.gold])
        row.update(task.hook.item_fields(d))
        rows.append(row)
    return pd.DataFrame(rows)


def _model_info(ref, model) -> dict:
    cfg = model.config
    return {"spec": ref.spec, "path": ref.path, "kind": ref.kind,
            "n_layers": int(getattr(cfg, "num_hidden_layers", 0) or 0),
            "hidden_size": int(getattr(cfg, "hidden_size", 0) or 0)}


def _teacher_layers(refs) -> list[int] | None:
    """A depth-pruned student of this very base: the teacher layers it was copied from."""
    from bench.compare.cka import student_layers
    from bench.compress.variants import read_provenance
    from bench.models.loading import fingerprint

    if refs[1].kind == "hub" or refs[0].kind == "hub":
        return None
    prov = read_provenance(refs[1].path)
    return student_layers(prov, fingerprint(Path(refs[0].path))["sha256"]) if prov else None


def cka(args) -> int:
    import numpy as np
    from rich.markup import escape
    from rich.table import Table

    from bench.cli.checks import out_folder
    from bench.cli.render import console
    from bench.compare.cka import MIN_ITEMS, SCHEMA, cka_by_layer, hidden_states
    from bench.data import store as data_store
    from bench.data.sampling import stratified_sample
    from bench.models.device import pick_device
    from bench.models.loading import load_causal_lm, load_tokenizer, resolve
    from bench.store.atomic import write_json
    from bench.tasks.registry import get_task

    if args.limit is not None and args.limit < 2:
        raise UserError(f"--limit must be at least 2 items for CKA (got {args.limit})")
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be positive (got {args.batch_size})")
    out_folder(args.out)
    device = pick_device(args.device)
    task = get_task(args.task)
    dataset = data_store.load(task.spec, args.data_dir)
    keep = stratified_sample(dataset.docs, args.limit, task.spec.stratify_by or task.spec.group_by, args.seed)
    docs = [dataset.docs[i] for i in keep]
    frame = probe_frame(task, docs)
    subsets = {"all": np.ones(len(docs), bool)}
    subsets.update({k: np.asarray(v, bool) for k, v in task.hook.probe_subsets(frame).items()})
    texts = [task.render(d) for d in docs]
    dtype = args.dtype if args.dtype != "auto" else ("bfloat16" if device.startswith("cuda") else "float32")

    refs = [resolve(args.base), resolve(args.variant)]
    states, info = [], []
    for ref in refs:  # one model in memory at a time
        model = load_causal_lm(ref, dtype=dtype, device=device)
        states.append(hidden_states(model, load_tokenizer(ref), texts, pool=args.pool,
                                    batch_size=args.batch_size, device=device))
        info.append(_model_info(ref, model))
        del model
    result = cka_by_layer(states[0], states[1], subsets, _teacher_layers(refs))
    doc = {"schema": SCHEMA, "task": task.name, "base": info[0], "variant": info[1], "pool": args.pool,
           "dtype": dtype, "n_items": len(docs), "subsets": {k: int(v.sum()) for k, v in subsets.items()},
           "data": {**dataset.provenance(), "n_items": len(docs), "limit": args.limit, "seed": args.seed},
           **result, "plots": []}

    table = Table(title=escape(f"linear CKA · {task.name} · {refs[1].spec} vs {refs[0].spec} · {args.pool}-pooled, "
                               f"{len(docs)} items"), title_justify="left")
    table.add_column("base layer", justify="right")
    table.add_column("variant layer", justify="right")
    table.add_column("depth", justify="right")
    for name, n in doc["subsets"].items():
        table.add_column(f"{name} (n={n})", justify="right")
    for row in doc["layers"]:
        table.add_row(str(row["base_layer"]), str(row["variant_layer"]), f"{row['depth']:.2f}",
                      *("undefined" if v is None else f"{v:.4f}" for v in row["cka"].values()))
    console.print(table)
    console.print(f"layer 0 is the embedding output; undefined: fewer than {MIN_ITEMS} items in the subset, or "
                  "states that do not vary across items.")
    if doc["mapped_by_relative_depth"]:
        console.print(f"[yellow]layer counts differ (base {result['base_layers']}, variant "
                      f"{result['variant_layers']}): layers are paired by relative depth[/]")
    elif doc["layer_mapping"] == "teacher_layers":
        console.print("each student layer is paired with the teacher layer it was initialized from (its "
                      "provenance's teacher_layers)")
    stem = re.sub(r"[^\w.-]+", "-", f"{task.name}__{Path(refs[1].spec).name}__cka").strip("-")
    if not args.no_plots:
        from bench.compare.plots import plot_cka

        doc["plots"] = plot_cka(doc, args.out / stem)
    write_json(args.out / f"{stem}.json", doc)
    print(f"wrote {args.out / (stem + '.json')}" + ("" if args.no_plots else " and plots"))
    return 0
