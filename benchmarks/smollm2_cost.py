"""What the real model (builtin:smollm2-135m) costs on this machine: conversion, load, BBQ scoring, memory.

    OMP_NUM_THREADS=1 python benchmarks/smollm2_cost.py [--convert] [--items 64] [--data-dir DIR]

--convert times a first-use conversion into a temporary cache (minutes); without it the cached model is used.
Load is `HFBackend(...)` on the converted folder (tokenizer + safetensors; imports done before), and
separately the fingerprint (a run hashes all 538 MB). BBQ is scored packed (each context once, options behind
a block mask) and one sequence per option, interleaved (A B A B) with the median of each; log-likelihoods of
the two are checked equal. Peak RSS is this process's.
The load average is printed next to each figure: on 2 shared cores timings swing several-fold (FACTS.md).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load() -> str:
    return "load {:.2f}/{:.2f}/{:.2f}".format(*os.getloadavg())


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--convert", action="store_true", help="time a first-use conversion into a temporary cache")
    p.add_argument("--items", type=int, default=64)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--data-dir", type=Path, help="published BBQ files (default: the shipped sample)")
    args = p.parse_args()
    import torch

    from bench.data import store as data_store
    from bench.models import builtin
    from bench.models.hf import HFBackend
    from bench.models.loading import fingerprint, resolve
    from bench.tasks.registry import get_task

    print(f"torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs, {load()}")
    if args.convert:
        with tempfile.TemporaryDirectory() as cache:
            os.environ["QDBENCH_MODEL_CACHE"] = cache
            t0 = time.perf_counter()
            builtin.materialize("smollm2-135m")
            print(f"conversion (GGUF -> fp32 safetensors): {time.perf_counter() - t0:.1f} s  [{load()}]")
            os.environ.pop("QDBENCH_MODEL_CACHE")
    ref = resolve("builtin:smollm2-135m")
    import transformers  # noqa: F401 - imports are not load time
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401

    t0 = time.perf_counter()
    fingerprint(Path(ref.path))
    t1 = time.perf_counter()
    backend = HFBackend(ref, device="cpu", dtype="float32")
    t2 = time.perf_counter()
    print(f"load: fingerprint (sha256 of 538 MB) {t1 - t0:.2f} s, tokenizer + model {t2 - t1:.2f} s  [{load()}]")

    task = get_task("bbq")
    dataset = data_store.load(task.spec, args.data_dir, sample=args.data_dir is None)
    docs = dataset.docs[:args.items]
    requests = [r for d in docs for r in task.requests(d)]
    times: dict[bool, list[float]] = {True: [], False: []}
    answers: dict[bool, list[float]] = {}
    for _ in range(args.repeats):
        for pack in (True, False):
            backend.pack = pack
            t0 = time.perf_counter()
            answers[pack] = [r.logprob for r in backend.loglikelihood(requests)]
            times[pack].append(time.perf_counter() - t0)
    diff = max(abs(a - b) for a, b in zip(answers[True], answers[False], strict=True))
    print(f"BBQ, {len(docs)} items x 3 options ({dataset.origin}), median of {args.repeats} interleaved runs:")
    for pack, name in ((True, "packed (context once)"), (False, "one sequence per option")):
        s = statistics.median(times[pack])
        print(f"  {name:26} {s:7.2f} s  {len(docs) / s:6.2f} items/s")
    print(f"  max |dLL| packed vs one per option: {diff:.2e}  [{load()}]")
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
