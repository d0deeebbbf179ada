"""BBQ multiple-choice scoring speed: qdbench HF (packed, one sequence per option), vLLM and lm-eval's HFLM on
the same items and the same loaded weights, with per-item agreement, the FLOP floor, and a cached re-run.

    OMP_NUM_THREADS=1 python benchmarks/bbq_scoring.py [--items 40] [--model builtin:smollm2-135m] [--rounds 3]
                                                       [--contiguous] [--data-dir DIR]

`--items` is a stratified sample, where two items rarely share a passage; `--contiguous` takes the first items
of each category file instead, as a whole-data-set run sees them (BBQ asks two questions of each passage, in
an ambiguous and a disambiguated version), so prefix sharing counts as it does in a full run.

Methods run interleaved (A B C D, A B C D, ...) and the table shows medians, because on a shared machine the
load drifts within minutes (FACTS.md). vLLM runs where an environment has it (`make vllm-env`); its engine
start is not timed. The floor (what the best kernel would need on this machine, at the measured fp32 GEMM rate
on this thread count) counts each distinct prefix once (a token shared by several requests at the same place
is one computation; a continuation's last token is never input):
  2·P·(distinct prefix tokens)                                           layers' weights, P non-embedding params
+ 2·d·V·(scored positions)                                               output projection where it is needed
+ 4·d·L·Σ_token (its depth: the keys it attends to)                      attention scores and values
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch


def gemm_flops(seconds: float = 1.0) -> float:
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        n += 1
    return n * 2 * 1024**3 / (time.perf_counter() - t0)


def floor_flops(model, pairs: set) -> float:
    cfg = model.config
    d, layers, vocab = cfg.hidden_size, cfg.num_hidden_layers, cfg.vocab_size
    params = sum(t.numel() for t in model.parameters() if t.dim() > 1) - model.get_input_embeddings().weight.numel()
    prefixes = {seq[:j] for ctx, cont in pairs for seq in [ctx + cont[:-1]] for j in range(1, len(seq) + 1)}
    scored = {(ctx + cont)[:j] for ctx, cont in pairs for j in range(len(ctx), len(ctx) + len(cont))}
    keys = sum(map(len, prefixes))
    return 2 * params * len(prefixes) + 2 * d * vocab * len(scored) + 4 * d * layers * keys


def main() -> None:
    from bench.data import store
    from bench.data.sampling import stratified_sample
    from bench.models.hf import HFBackend
    from bench.models.loading import fingerprint, resolve
    from bench.store.request_cache import CachedBackend, RequestCache, model_key
    from bench.tasks.registry import get_task

    p = argparse.ArgumentParser()
    p.add_argument("--items", type=int, default=40)
    p.add_argument("--model", default="builtin:tiny-llama")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the table shows medians")
    p.add_argument("--data-dir", type=Path, help="published BBQ files (default: imported data, else the sample)")
    p.add_argument("--no-vllm", action="store_true")
    p.add_argument("--contiguous", action="store_true",
                   help="the first items of each category (passages shared as in a full run), not a sample")
    args = p.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    load_before = os.getloadavg()

    task = get_task("bbq")
    data = store.load(task.spec, args.data_dir)
    if args.contiguous:
        by_category: dict[str, list] = {}
        for d in data.docs:
            by_category.setdefault(d["category"], []).append(d)
        per = -(-args.items // len(by_category))
        docs = [d for ds in by_category.values() for d in ds[:per]][:args.items]
    else:
        docs = [data.docs[i] for i in stratified_sample(data.docs, args.items, task.spec.stratify_by, seed=0)]
    per_item = [task.requests(d) for d in docs]
    requests = [r for rs in per_item for r in rs]
    ref = resolve(args.model)
    hf = HFBackend(ref, device="cpu", dtype="float32")
    pairs = {tuple(map(tuple, hf.encode_pair(r.context, r.continuation))) for r in requests}
    floor_s = floor_flops(hf.model, pairs) / gemm_flops()

    def single():
        hf.pack = False
        try:
            return hf.loglikelihood(requests)
        finally:
            hf.pack = True

    methods = {"qdbench packed (prefix trees)": lambda: hf.loglikelihood(requests),
               "qdbench one sequence per option": single}
    try:
        from lm_eval.api.instance import Instance
        from lm_eval.models.huggingface import HFLM

        lm = HFLM(pretrained=hf.model, tokenizer=hf.tokenizer, batch_size=64, add_bos_token=True, device="cpu")
        inst = [Instance("loglikelihood", {}, (r.context, r.continuation), i) for i, r in enumerate(requests)]
        methods["lm-eval 0.4 HFLM"] = lambda: [type("R", (), {"logprob": ll})()
                                               for ll, _ in lm.loglikelihood(inst, disable_tqdm=True)]
    except ImportError:
        print("lm-eval not installed: pip install -c requirements/constraints.txt '.[lmeval]'")
    vllm = None
    if not args.no_vllm:
        from bench.models.vllm_backend import VLLMBackend, vllm_python

        if vllm_python():
            t0 = time.perf_counter()
            vllm = VLLMBackend(ref, device="cpu", dtype="float32")
            print(f"vLLM {vllm.info['vllm']} engine start {time.perf_counter() - t0:.0f} s (not timed below)")
            methods["vLLM prompt_logprobs (prefix cache off)"] = lambda: vllm.loglikelihood(requests)
        else:
            print("vLLM not available: make vllm-env")

    times: dict[str, list[float]] = {k: [] for k in methods}
    outs: dict[str, list] = {}
    for _ in range(args.rounds):
        for name, fn in methods.items():
            t0 = time.perf_counter()
            outs[name] = fn()
            times[name].append(time.perf_counter() - t0)

    with tempfile.TemporaryDirectory() as tmp:  # first run fills the cache, the re-run reads it
        key = model_key(fingerprint(Path(ref.path)), None, "hf", "float32@cpu")
        t0 = time.perf_counter()
        CachedBackend(lambda: hf, RequestCache(key, Path(tmp))).loglikelihood(requests)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        cached = CachedBackend(lambda: None, RequestCache(key, Path(tmp))).loglikelihood(requests)
        rerun = time.perf_counter() - t0
        assert [c.logprob for c in cached] == [o.logprob for o in outs["qdbench packed (prefix trees)"]]

    reference = outs["qdbench one sequence per option"]

    def picks(out):
        k, res = 0, []
        for rs in per_item:
            lls = [o.logprob for o in out[k:k + len(rs)]]
            res.append(lls.index(max(lls)))
            k += len(rs)
        return res

    ref_picks = picks(reference)
    lm_t = statistics.median(times["lm-eval 0.4 HFLM"]) if "lm-eval 0.4 HFLM" in times else None
    params = sum(t.numel() for t in hf.model.parameters() if t.dim() > 1)
    print(f"{len(docs)} BBQ items ({data.origin}, {'contiguous' if args.contiguous else 'stratified sample'}) "
          f"x 3 options, {args.model} ({params / 1e6:.1f}M params in "
          f"matrices), fp32, {torch.get_num_threads()} thread(s), median of {args.rounds} interleaved rounds; "
          f"load {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"{'method':42} {'s':>7} {'items/s':>8} {'vs lm-eval':>10} {'of floor':>8} {'max |dLL|':>10} "
          f"{'same pick':>9}")
    for name in methods:
        t = statistics.median(times[name])
        diff = max(abs(a.logprob - b.logprob) for a, b in zip(outs[name], reference, strict=True))
        same = sum(a == b for a, b in zip(picks(outs[name]), ref_picks, strict=True))
        ratio = f"{lm_t / t:.2f}x" if lm_t else "-"
        print(f"{name:42} {t:7.2f} {len(docs) / t:8.2f} {ratio:>10} {floor_s / t:8.1%} {diff:10.2e} "
              f"{same:>4}/{len(docs)}")
    print(f"request cache: first run {first:.2f} s, fully cached re-run {rerun:.3f} s ({rerun / first:.1%} of the "
          f"first); floor {floor_s:.2f} s")
    if vllm is not None:
        vllm.close()


if __name__ == "__main__":
    main()
