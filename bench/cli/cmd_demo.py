"""qdbench demo: the built-in tiny model and two quantized variants on the shipped BBQ sample, offline."""

from __future__ import annotations

from pathlib import Path

from bench.paths import repo_root

BANNER = ("qdbench demo: builtin:tiny-llama, full precision and quantized (GPTQ int4, round-to-nearest int8), on "
          "the shipped BBQ sample. The model is random-initialized, so its scores are MEANINGLESS; the demo "
          "shows the pipeline, not a result.")


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="run the offline demo on the built-in tiny model and two quantized variants")
    p.add_argument("--out", type=Path, default=Path("runs/demo"))
    p.set_defaults(func=demo)


def demo(args) -> int:
    """Exactly `qdbench run configs/matrices/quickstart.yaml --sample-data`, after the banner."""
    from bench.cli.main import build_parser
    from bench.cli.matrix import run_matrix_file
    from bench.cli.render import console

    console.print(f"[bold yellow]{BANNER}[/]")
    quickstart = repo_root() / "configs" / "matrices" / "quickstart.yaml"
    argv = ["run", str(quickstart), "--out", str(args.out), "--sample-data"]
    run_args = build_parser().parse_args(argv)
    run_args.argv = argv
    return run_matrix_file(run_args)
