"""Seconds per distillation step on this machine: the live-teacher full-vocabulary step against the step that
reads the teacher's cached top-k log-probabilities, for a depth-pruned SmolLM2 student.

    PYTHONPATH=. python benchmarks/distill_step.py [--layers 15] [--steps 3] [--seq-len 256] [--batch-size 8]

Prints, per mode, the median step time, user and system CPU seconds per step (system time is page faults of
large temporary tensors), tokens/s and the ratio to the live-teacher step. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time


def _cpu() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--teacher", default="builtin:smollm2-135m")
    ap.add_argument("--layers", type=int, default=15)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave torch's default)")
    ap.add_argument("--modes", default="live,topk")
    args = ap.parse_args()

    import torch

    from bench.compress.distill import DistillConfig, build_student, read_config
    from bench.compress.distill.loss import kd_loss, topk_kd_loss
    from bench.compress.distill.speed import teacher_topk
    from bench.models.loading import load_causal_lm, resolve

    if args.threads:
        torch.set_num_threads(args.threads)
    ref = resolve(args.teacher)
    teacher = load_causal_lm(ref, dtype="float32").eval()
    tcfg = read_config(ref)
    n_t = tcfg.num_hidden_layers
    layers = [round(i * (n_t - 1) / max(1, args.layers - 1)) for i in range(args.layers)]
    cfg = DistillConfig(teacher=args.teacher, student="teacher", student_init="teacher_layers",
                        teacher_layers=layers, corpus=["synthetic:10"])
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, tcfg.vocab_size, (args.batch_size, args.seq_len), generator=g)
    labels = ids[:, 1:].flatten()
    T, alpha, k = 2.0, 0.5, 64
    with torch.no_grad():
        cached = teacher_topk(teacher, ids, T, k)
    out = {"threads": torch.get_num_threads(), "layers": args.layers, "seq_len": args.seq_len,
           "batch_size": args.batch_size}
    for mode in args.modes.split(","):
        student = build_student(cfg, tcfg, teacher)
        opt = torch.optim.AdamW(student.parameters(), lr=1e-4)
        times, users, syss = [], [], []
        for _ in range(args.steps + 1):
            t0, (u0, s0) = time.perf_counter(), _cpu()
            if mode == "live":
                with torch.no_grad():
                    t_logits = teacher(input_ids=ids).logits[:, :-1].flatten(0, 1)
                s_logits = student(input_ids=ids).logits[:, :-1].flatten(0, 1)
                loss = kd_loss(s_logits, t_logits, labels, T, alpha)
            else:
                s_logits = student(input_ids=ids).logits[:, :-1].flatten(0, 1)
                loss = topk_kd_loss(s_logits, cached[0].flatten(0, 1), cached[1].flatten(0, 1), labels, T, alpha)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            (u1, s1) = _cpu()
            times.append(time.perf_counter() - t0)
            users.append(u1 - u0)
            syss.append(s1 - s0)
        times, users, syss = times[1:], users[1:], syss[1:]  # the first step warms up allocators
        out[mode] = {"step_s": round(statistics.median(times), 3), "user_s": round(statistics.median(users), 3),
                     "sys_s": round(statistics.median(syss), 3),
                     "tokens_per_s": round(args.batch_size * args.seq_len / statistics.median(times), 1)}
    live = out.get("live", {}).get("step_s")
    for mode in args.modes.split(","):
        if live:
            out[mode]["speedup_vs_live"] = round(live / out[mode]["step_s"], 2)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
