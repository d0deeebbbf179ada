"""Which teacher layers a depth-pruned SmolLM2 student should start from: the held-out KL from the teacher of
students initialized from different layer selections, before any training, and their parameter counts.

    PYTHONPATH=. python benchmarks/distill_depth.py [--docs 16]

A student starts where its initialization puts it; the closer it starts, the fewer of the 100-150 steps a CPU
budget allows are spent recovering from the cut. Prints one JSON line per selection. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import time

SELECTIONS = {
    "15: every other (0,2,..,28)": list(range(0, 30, 2)),
    "15: first 8 + last 7": list(range(0, 8)) + list(range(23, 30)),
    "15: first 4 + every other middle + last 3": [0, 1, 2, 3, 5, 7, 9, 11, 13, 15, 17, 19, 27, 28, 29],
    "15: first 11 + last 4": list(range(0, 11)) + list(range(26, 30)),
    "20: first 12 + last 8": list(range(0, 12)) + list(range(22, 30)),
    "20: every 3rd dropped": [i for i in range(30) if i % 3 != 1],
    "10: first 6 + last 4": list(range(0, 6)) + list(range(26, 30)),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=16)
    args = ap.parse_args()

    from bench.compress.distill import DistillConfig, build_student, read_config
    from bench.compress.distill.proof import document_scores, summarize
    from bench.compress.teacher_text import held_out_texts
    from bench.models.loading import load_causal_lm, load_tokenizer, resolve

    ref = resolve("builtin:smollm2-135m")
    teacher, tok, tcfg = load_causal_lm(ref, dtype="float32").eval(), load_tokenizer(ref), read_config(ref)
    docs = held_out_texts(ref, quiet=True)["teacher_written"][: args.docs]
    for name, layers in SELECTIONS.items():
        cfg = DistillConfig(teacher="builtin:smollm2-135m", student="teacher", student_init="teacher_layers",
                            teacher_layers=layers, corpus=["synthetic:10"])
        t0 = time.perf_counter()
        student = build_student(cfg, tcfg, teacher).eval()
        s = summarize(document_scores(teacher, student, tok, docs))
        print(json.dumps({"selection": name, "layers": layers, "parameters_M": round(
            sum(p.numel() for p in student.parameters()) / 1e6, 2), "kl_at_init": round(s["kl"], 3),
            "kl_ci": [round(x, 3) for x in s["kl_ci"]], "ppl_at_init": round(s["ppl"], 1),
            "teacher_ppl": round(s["teacher_ppl"], 2), "s": round(time.perf_counter() - t0, 1)}), flush=True)


if __name__ == "__main__":
    main()
