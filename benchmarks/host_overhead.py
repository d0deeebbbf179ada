"""Host time of multiple-choice scoring: everything but the model's arithmetic, per stage.

On the H200 (RESULTS.md, 2026-12-04) a 1B model scored as fast as a 135M one: every method was bound by the
host, not the device. With a model too small to cost anything (SmolLM2's tokenizer and vocabulary, one layer of
hidden size 64, random weights) the packed path's remaining time is that host work, measurable on a CPU:

    OMP_NUM_THREADS=1 python benchmarks/host_overhead.py --data-dir ../shared/data/bbq [--items 3000]

Prints wall seconds and items/s, then the stages' cumulative seconds from one cProfile pass: tokenizing,
grouping requests into trees, building the trees, the attention layout (masks), the forward and the output
projection, turning log-probabilities into results.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.bbq_scoring import pick_docs  # noqa: E402
from benchmarks.timing import cpu_flags, load  # noqa: E402

STAGES = {  # label: (file suffix, function name) whose cumulative time is the stage's
    "tokenize (split_pairs)": ("tokens.py", "split_pairs"),
    "group into trees": ("prefix_tree.py", "rows_sharing_prefixes"),
    "build trees": ("prefix_tree.py", "__init__"),
    "attention layout (masks)": ("varlen.py", "buckets"),
    "model forward (decoder layers)": ("modeling_llama.py", "forward"),
    "output projection + log-softmax": ("varlen.py", "target_logprobs"),
    "results per request": ("varlen.py", "per_request"),
}


def tiny_model(tokenizer_ref):
    """SmolLM2's architecture at one layer of hidden size 64: the arithmetic is negligible, the host is not."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from bench.models.loading import load_tokenizer

    tokenizer = load_tokenizer(tokenizer_ref, False)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192,
                         tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id)
    config._attn_implementation = "sdpa"
    return LlamaForCausalLM(config).eval(), tokenizer


def stage_seconds(stats: pstats.Stats) -> dict[str, float]:
    out = dict.fromkeys(STAGES, 0.0)
    for (file, _, name), (_, _, _, cum, _) in stats.stats.items():  # type: ignore[attr-defined]
        for label, (suffix, fn) in STAGES.items():
            if name == fn and file.endswith(suffix):
                out[label] = max(out[label], cum)
    return out


def main() -> None:
    from bench.data import store
    from bench.models.hf import HFBackend
    from bench.models.loading import resolve
    from bench.tasks.registry import get_task

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--items", type=int, default=3000)
    p.add_argument("--layout", choices=("stratified", "contiguous"), default="stratified")
    p.add_argument("--tokenizer", default="builtin:smollm2-135m")
    args = p.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    task = get_task("bbq")
    docs = pick_docs(store.load(task.spec, args.data_dir).docs, args.items, args.layout, task.spec.stratify_by)
    requests = [r for d in docs for r in task.requests(d)]
    model, tokenizer = tiny_model(resolve(args.tokenizer))

    def backend() -> HFBackend:
        return HFBackend(resolve(args.tokenizer), device="cpu", dtype="float32", model=model, tokenizer=tokenizer)

    backend().loglikelihood(requests[:30])  # warm-up
    before = load()
    t0 = time.perf_counter()
    backend().loglikelihood(requests)
    wall = time.perf_counter() - t0
    print(f"{len(docs)} BBQ items ({args.layout}) x {len(requests) // max(len(docs), 1)} options, one-layer "
          f"hidden-64 model with {args.tokenizer}'s tokenizer, {torch.get_num_threads()} thread(s); {cpu_flags()}; "
          f"load {before}")
    print(f"packed scoring: {wall:.2f} s, {len(docs) / wall:.0f} items/s")
    prof = cProfile.Profile()
    prof.runcall(backend().loglikelihood, requests)
    stats = pstats.Stats(prof)
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"under cProfile: {total:.2f} s")
    for label, s in stage_seconds(stats).items():
        print(f"  {label:34} {s:7.2f} s {s / total:6.1%}")


if __name__ == "__main__":
    main()
