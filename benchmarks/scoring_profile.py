"""Where multiple-choice scoring time goes: the layers' matrix products, the output projection, attention, the
other tensor operations (norms, RoPE, SiLU, residual adds, copies) and what is left (Python, framework, host
round trips), for the unpadded path and the padded-rows path, with the tokens each computes against the
distinct prefixes the floor counts.

    OMP_NUM_THREADS=1 python benchmarks/scoring_profile.py --model builtin:smollm2-135m --data-dir ../shared/data/bbq
        [--items 24] [--layout stratified|contiguous] [--task bbq]

One torch.profiler pass per path after a warm-up; matrix products are told apart by shape (one side the
vocabulary: the output projection).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.bbq_scoring import pick_docs  # noqa: E402
from benchmarks.timing import cpu_flags, load  # noqa: E402

MATMUL = {"aten::mm", "aten::addmm", "aten::bmm"}


def classify(prof, vocab: int) -> dict[str, float]:
    """Self CPU seconds per kind of work."""
    out = {"layers' matrices": 0.0, "output projection": 0.0, "attention": 0.0, "other tensor ops": 0.0}
    for e in prof.key_averages(group_by_input_shape=True):
        s = e.self_cpu_time_total / 1e6
        if e.key in MATMUL:
            shapes = [d for shape in (e.input_shapes or []) for d in (shape or [])]
            out["output projection" if vocab in shapes else "layers' matrices"] += s
        elif "attention" in e.key:
            out["attention"] += s
        elif e.key.startswith("aten::"):
            out["other tensor ops"] += s
    return out


def computed_tokens(hf, trees, flat: bool) -> int:
    from bench.models.batching import by_budget

    if flat:
        return sum(t.size for t in trees)
    batches = by_budget(sorted(trees, key=lambda t: -t.size), lambda t: t.size, hf.batch_tokens, hf.max_batch_size)
    return sum(len(b) * (max(t.n_shared for t in b) + max(t.size - t.n_shared for t in b)) for b in batches)


def main() -> None:
    from torch.profiler import ProfilerActivity, profile

    from bench.data import store
    from bench.models.hf import HFBackend
    from bench.models.loading import resolve
    from bench.models.prefix_tree import ROW_TOKENS, PrefixTree, rows_sharing_prefixes
    from bench.tasks.registry import get_task

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="builtin:smollm2-135m")
    p.add_argument("--task", default="bbq")
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--items", type=int, default=24)
    p.add_argument("--layout", choices=("stratified", "contiguous"), default="stratified")
    args = p.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    task = get_task(args.task)
    data = store.load(task.spec, args.data_dir)
    layout = args.layout if args.task == "bbq" else "stratified"
    docs = pick_docs(data.docs, args.items, layout, task.spec.stratify_by)
    requests = [r for d in docs for r in task.requests(d)]
    hf = HFBackend(resolve(args.model), device="cpu", dtype="float32")
    pairs = list(dict.fromkeys((tuple(c), tuple(t)) for c, t in (hf.encode_pair(r.context, r.continuation)
                                                                   for r in requests)))
    trees = [PrefixTree(pairs, row) for row in rows_sharing_prefixes(pairs, range(len(pairs)), ROW_TOKENS,
                                                                      hf._key_cost)]
    distinct = len({s[:j] for c, t in pairs for s in [c + t[:-1]] for j in range(1, len(s) + 1)})
    print(f"{len(docs)} {args.task} items ({layout}), {args.model}, fp32, {torch.get_num_threads()} thread(s); "
          f"{cpu_flags()}; {len(pairs)} requests, {len(trees)} trees, {distinct} distinct prefixes")
    vocab = hf.model.config.vocab_size
    default = hf.flat
    for flat in (True, False):
        hf.flat = flat and default
        hf.loglikelihood(requests[:6])  # warm-up
        before = load()
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            t0 = time.perf_counter()
            hf.loglikelihood(requests)
            wall = time.perf_counter() - t0
        kinds = classify(prof, vocab)
        kinds["Python, framework, host"] = max(wall - sum(kinds.values()), 0.0)
        tokens = computed_tokens(hf, trees, flat and default)
        print(f"\n{'unpadded (trees end to end)' if flat else 'padded rows'}: {wall:.2f} s under the profiler, "
              f"load {before}; {tokens} tokens computed for {distinct} distinct prefixes "
              f"({tokens / distinct:.2f}x)")
        for name, s in kinds.items():
            print(f"  {name:26} {s:8.2f} s {s / wall:7.1%}")
    hf.flat = default


if __name__ == "__main__":
    main()
