"""qdbench demo: a real pretrained model (SmolLM2-135M) and two quantized variants on the shipped BBQ sample,
side by side, then the paired comparison (deltas, intervals, corrected significance, flips), offline.

`--quick` runs the same pipeline on the random-initialized tiny model in seconds (for tests)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from bench.errors import UserError
from bench.paths import repo_root

BANNER = ("qdbench demo: SmolLM2-135M-Instruct (builtin:smollm2-135m), a real pretrained model, in full precision "
          "and quantized (GPTQ int4, round-to-nearest int3), on 384 BBQ-format items qdbench writes itself. "
          "Its 'full precision' weights are the Q4_1 GGUF release dequantized to fp32. First use converts the "
          "model (1-4 minutes on 2 cores) and builds the variants (GPTQ takes minutes on a CPU); later runs reuse "
          "them.")
QUICK_BANNER = ("qdbench demo --quick: builtin:tiny-llama, full precision and quantized (GPTQ int4, round-to-nearest "
                "int8), on the shipped BBQ sample. The model is random-initialized, so its scores are MEANINGLESS; "
                "this shows the pipeline, not a result.")


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="run the offline demo: a real small model and two quantized variants, compared")
    p.add_argument("--out", type=Path, default=Path("runs/demo"))
    p.add_argument("--quick", action="store_true", help="the random tiny model instead (seconds; scores meaningless)")
    p.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples and permutations")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="CPU threads for torch (default: all cores; tests and benchmarks pin one)")
    p.set_defaults(func=demo)


def demo(args) -> int:
    """`qdbench run configs/matrices/demo.yaml --sample-data`, then `qdbench compare --family ...`."""
    import torch

    from bench.cli.main import build_parser
    from bench.cli.matrix import run_matrix_file
    from bench.cli.render import console
    from bench.exec.plan import load_matrix

    if args.threads < 1:
        raise UserError(f"--threads {args.threads}: expected a positive number")
    torch.set_num_threads(args.threads)
    banner = QUICK_BANNER if args.quick else BANNER
    console.print(f"[bold yellow]{banner}[/]")
    path = repo_root() / "configs" / "matrices" / ("quickstart.yaml" if args.quick else "demo.yaml")
    parser = build_parser()
    argv = ["run", str(path), "--out", str(args.out), "--sample-data"]
    run_args = parser.parse_args(argv)
    run_args.argv = argv
    code = run_matrix_file(run_args)
    if code:
        return code
    family = load_matrix(path).families[0].family_name()
    compare_out = args.out / "compare" / family
    console.print(f"[bold]paired comparison of each variant with its base ({family})[/]")
    compare_args = parser.parse_args(["compare", "--family", family, "--runs", str(args.out), "--out",
                                      str(compare_out), "--resamples", str(args.resamples), "--no-plots"])
    code = compare_args.func(compare_args)
    if code:
        return code
    console.print(verdict(json.loads((compare_out / "compare.json").read_text())))
    return 0


def verdict(doc: dict) -> str:
    """One plain line per variant: what changed significantly overall, or that nothing did at this size."""
    lines = []
    for c in doc["comparisons"]:
        label, n = c["variant"]["label"], c["n_items"]
        flips = c["flips"]["overall"]
        sig = [m["name"] for m in c["metrics"] if m["overall"].get("significant")]
        groups = sum(sum(m.get("n_significant_groups", {}).values()) for m in c["metrics"])
        flipped = f"{flips['n_flipped']} of {flips['n_items']} answers flipped"
        if sig or groups:
            what = ", ".join(sig) if sig else "no overall metric"
            lines.append(f"{label}: significant change in {what} overall and in {groups} corrected group test(s) "
                         f"({n} items; {flipped})")
        else:
            lines.append(f"{label}: no significant change in any metric at this size ({n} items, alpha "
                         f"{doc['settings']['alpha']}, {doc['settings']['correction']}-corrected groups) although "
                         f"{flipped}: an honest null, not evidence of no effect")
    return "\n".join(lines)
