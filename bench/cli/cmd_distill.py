"""qdbench distill --teacher M --student S --temperature T --alpha A --corpus SOURCE [--no-teacher] ..."""

from __future__ import annotations

from pathlib import Path

from bench.errors import UserError


def add_parser(sub) -> None:
    p = sub.add_parser("distill", help="distill a teacher into a student (or train the NDS control); resumable")
    p.add_argument("--config", type=Path, help="a YAML file with DistillConfig fields; flags given override it")
    p.add_argument("--teacher", help="builtin:NAME, a local model folder, or a hub id")
    p.add_argument("--teacher-revision")
    p.add_argument("--student", help="builtin:NAME, a config.json, a model folder, a hub id, or 'teacher'")
    p.add_argument("--student-init", choices=["random", "checkpoint", "teacher-layers"])
    p.add_argument("--teacher-layers", help="comma-separated teacher layer indices copied into the student")
    p.add_argument("--temperature", type=float)
    p.add_argument("--alpha", type=float, help="weight of the hard-label CE; 1 − alpha goes to the KD term")
    p.add_argument("--corpus", action="append",
                   help="teacher[:N_DOCS[:SEED]] (text the teacher writes from the project's neutral prompts; "
                        "the default), .txt/.jsonl file, folder, synthetic[:N_DOCS[:SEED]] or hub data set "
                        "(repeatable); a corpus that repeats evaluation sentences is refused")
    p.add_argument("--text-field", help="jsonl field that holds the text (default: text)")
    p.add_argument("--no-teacher", action="store_true", default=None,
                   help="train the non-distilled control: same data order, steps and seed, CE only")
    p.add_argument("--chain", help="comma-separated intermediate students (teacher → ... → student)")
    p.add_argument("--steps", type=int)
    p.add_argument("--seq-len", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--warmup-steps", type=int)
    p.add_argument("--lr-schedule", choices=["linear", "cosine"])
    p.add_argument("--topk", type=int, help="teacher top-k log-probabilities cached once per corpus (default 64; "
                                            "0: the live teacher's full distribution every step)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own)")
    p.add_argument("--control", type=Path, help="the non-distilled control's folder, to compare the proof with "
                                                "(default: the cached --no-teacher student of the same recipe)")
    p.add_argument("--seed", type=int)
    p.add_argument("--checkpoint-every", type=int)
    p.add_argument("--mixed-precision", choices=["no", "bf16", "fp16"])
    p.add_argument("--save-dtype", choices=["float32", "bfloat16"],
                   help="dtype of the saved student (bfloat16: the float32 student's weights rounded once)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"])
    p.add_argument("--out", type=Path, help="student folder (default: the variant cache in $QDBENCH_HOME)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


FLAGS = ("teacher", "teacher_revision", "student", "student_init", "temperature", "alpha", "corpus", "text_field",
         "no_teacher", "steps", "seq_len", "batch_size", "lr", "seed", "checkpoint_every", "mixed_precision",
         "device", "save_dtype", "warmup_steps", "lr_schedule", "topk", "threads")


def config_from_args(args) -> dict:
    data: dict = {}
    if args.config is not None:
        from bench.configio import read_mapping

        data = read_mapping(args.config, "distill config")
    for name in FLAGS:
        value = getattr(args, name)
        if value is not None:
            data[name] = value.replace("-", "_") if name == "student_init" else value
    if args.teacher_layers:
        try:
            data["teacher_layers"] = [int(x) for x in args.teacher_layers.split(",")]
        except ValueError:
            raise UserError(f"--teacher-layers '{args.teacher_layers}': expected integers like 0,2,4") from None
    if args.chain:
        data["chain"] = [s for s in args.chain.split(",") if s]
    for required in ("teacher", "student"):
        if required not in data:
            raise UserError(f"distill: --{required} is required (or set it in --config)")
    return data


def run(args) -> int:
    import json
    import time

    from bench.cli.checks import out_folder
    from bench.compress.distill import PROVENANCE, distill, parse_config
    from bench.compress.distill.proof import lines, report

    cfg = parse_config(config_from_args(args))
    out_folder(args.out)
    started = time.time()
    folder = distill(cfg, out=args.out, quiet=args.quiet)
    prov = json.loads((folder / PROVENANCE).read_text())
    reused = " (reused: already built)" if (folder / PROVENANCE).stat().st_mtime < started else ""
    print(f"{prov['kind']} student: {folder}{reused}")
    print(f"size: {prov['student_parameters'] / 1e6:.2f}M parameters, {prov['bytes_on_disk'] / 1e6:.1f} MB of "
          f"{prov.get('save_dtype', 'float32')} weights on disk")
    print(f"loss: {prov['loss_first']:.4f} -> {prov['loss_last']:.4f} over {prov['steps']} steps "
          f"({prov['tokens']} tokens)")
    resumed = f", resumed at step {prov['resumed_from'][-1]}" if prov.get("resumed_from") else ""
    print(f"wall time: {prov['wall_s']:.1f} s of the last build process (training {prov['train_s']:.1f} s in "
          f"all{resumed}"
          + (f", {prov['tokens_per_s']:.0f} tokens/s on {prov.get('threads')} threads, peak memory "
             f"{prov['peak_rss_mb']:.0f} MB)" if prov.get("tokens_per_s") else ")"))
    if args.control is not None and not (args.control / PROVENANCE).is_file():
        raise UserError(f"--control '{args.control}': not a qdbench student folder (no {PROVENANCE})")
    for line in lines(report(prov, args.control)):
        print(line)
    return 0
