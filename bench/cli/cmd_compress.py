"""qdbench compress --model M --recipe NAME_OR_PATH [--out DIR]"""

from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("compress", help="materialize a compressed variant of a model (cached)")
    p.add_argument("--model", required=True, help="base model: builtin:NAME, a local folder, or a hub id")
    p.add_argument("--revision", help="hub revision of the base model")
    p.add_argument("--recipe", required=True, help="a recipe in configs/variants (e.g. gptq-w4a16) or a YAML path")
    p.add_argument("--out", type=Path, help="variants cache root (default: $QDBENCH_HOME/variants)")
    p.set_defaults(func=compress)


def compress(args) -> int:
    from bench.cli.checks import out_folder
    from bench.cli.render import console
    from bench.compress.recipes import load_recipe
    from bench.compress.variants import materialize, read_provenance
    from bench.models.loading import resolve
    from bench.paths import home

    out_folder(args.out or home() / "variants", "--out" if args.out else "variants cache (QDBENCH_HOME)")
    recipe = load_recipe(args.recipe)
    ref = materialize(resolve(args.model, args.revision), recipe, args.out)
    prov = read_provenance(ref.path) or {}
    console.print(f"variant {recipe.name} of {args.model} ({prov.get('format', recipe.method)})")
    for label, key in (("bytes on disk", "bytes_on_disk"), ("weight bytes in memory", "weights_bytes_in_memory"),
                       ("bits per parameter", "bits_per_param"), ("wall time (s)", "wall_s")):
        if prov.get(key) is not None:
            console.print(f"  {label}: {prov[key]:,}" if isinstance(prov[key], int) else f"  {label}: {prov[key]}")
    print(ref.path)
    return 0
