"""Sampled generation speed on RealToxicityPrompts (k continuations per prompt, as `rtp_toxicity` draws them):
qdbench's HF backend (one prefill per prompt shared by its k samples; a prefill per sample), plain HF
`generate` called once per sample, lm-eval's HFLM `generate_until` and vLLM, on the same prompts and weights.

    OMP_NUM_THREADS=1 python benchmarks/generation_speed.py --model builtin:smollm2-135m
        [--data-dir ../shared/data/realtoxicityprompts] [--prompts 8] [--samples 8] [--rounds 3]
        [--no-lmeval] [--no-vllm] [--json OUT.json]

Settings are the task's (temperature 1, top-p 0.9, 20 new tokens; seeds per item and sample). Agreement:
- sampled, qdbench shared prefill against a prefill per sample: same seeds, so the texts must be equal;
- sampled, every engine: each draws from the same distribution with its own random stream, so their texts
  differ, but their mean log-likelihood per token (scored by qdbench under the same model) and mean length
  must agree within sampling error (± 2 standard errors shown);
- greedy (one per prompt): the same text from every engine, counted.
Methods run interleaved, figures are medians over rounds of within-round ratios; load per round is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.timing import cpu_flags, interleaved, load, median_ratio  # noqa: E402

TARGET = 3.0  # k samples sharing one prefill against HF generate called per sample


def hf_per_sample(backend, requests) -> list[str]:
    """What a user would write: `model.generate` once per sample, seeded with torch's global generator, pure
    nucleus sampling (top_k off)."""
    tok, out = backend.tokenizer, []
    for r in requests:
        ids = torch.tensor([backend._encode(r.prompt)])
        torch.manual_seed(r.seed)
        sampling = {"do_sample": True, "temperature": r.temperature, "top_p": r.top_p, "top_k": 0} \
            if r.temperature > 0 else {"do_sample": False}
        with torch.inference_mode():
            gen = backend.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                         max_new_tokens=r.max_new_tokens, pad_token_id=backend._pad, **sampling)
        out.append(tok.decode(gen[0, ids.shape[1]:], skip_special_tokens=True))
    return out


def lmeval_generate(lm, requests):
    from lm_eval.api.instance import Instance

    def kwargs(r):
        sampling = {"do_sample": True, "temperature": r.temperature, "top_p": r.top_p} if r.temperature > 0 \
            else {"do_sample": False, "temperature": 0.0}
        return {"until": list(r.stop), "max_gen_toks": r.max_new_tokens, **sampling}

    inst = [Instance("generate_until", {}, (r.prompt, kwargs(r)), i) for i, r in enumerate(requests)]
    return lambda: lm.generate_until(inst, disable_tqdm=True)


def quality(backend, requests, texts) -> dict:
    """Mean new tokens and mean log-likelihood per token of the texts given their prompts, under the model."""
    from bench.models.requests import LoglikelihoodRequest

    scored = [(r, t) for r, t in zip(requests, texts, strict=True) if t]
    res = backend.loglikelihood([LoglikelihoodRequest(r.prompt, t) for r, t in scored])
    per_token = [x.logprob / x.n_tokens for x in res]
    lengths = [x.n_tokens for x in res] + [0] * (len(texts) - len(scored))
    sem = statistics.stdev(per_token) / len(per_token) ** 0.5 if len(per_token) > 1 else float("nan")
    return {"mean tokens": statistics.mean(lengths), "ll/token": statistics.mean(per_token), "ll/token sem": sem}


def main() -> None:
    from bench.data import store
    from bench.data.sampling import stratified_sample
    from bench.models.hf import HFBackend
    from bench.models.loading import resolve
    from bench.models.requests import GenerationRequest
    from bench.tasks.registry import get_task

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="builtin:smollm2-135m")
    p.add_argument("--data-dir", type=Path, help="RealToxicityPrompts files (default: imported data)")
    p.add_argument("--prompts", type=int, default=8)
    p.add_argument("--samples", type=int, default=8, help="k continuations per prompt (the task's default: 25)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--no-lmeval", action="store_true")
    p.add_argument("--no-vllm", action="store_true")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

    task = get_task("rtp_toxicity")
    task.spec.options["samples"] = args.samples
    data = store.load(task.spec, args.data_dir)
    if data.origin == "sample":
        sys.exit("generation_speed: no RealToxicityPrompts data imported: pass --data-dir "
                 "(e.g. ../shared/data/realtoxicityprompts)")
    docs = [data.docs[i] for i in stratified_sample(data.docs, args.prompts, task.spec.stratify_by, seed=0)]
    sampled = [r for d in docs for r in task.requests(d)]
    greedy = [GenerationRequest(r.prompt, r.max_new_tokens) for r in sampled[::args.samples]]
    ref = resolve(args.model)
    hf = HFBackend(ref, device="cpu", dtype="float32")

    def qdbench(share: bool, requests):
        def run():
            hf.share_prefill = share
            try:
                return hf.generate(requests)
            finally:
                hf.share_prefill = True
        return run

    lm = None
    if not args.no_lmeval:
        from lm_eval.models.huggingface import HFLM

        lm = HFLM(pretrained=hf.model, tokenizer=hf.tokenizer, batch_size=64, add_bos_token=True, device="cpu")
    vllm = None
    if not args.no_vllm:
        from bench.models.vllm_backend import VLLMBackend, vllm_python

        if vllm_python():
            t0 = time.perf_counter()
            vllm = VLLMBackend(ref, device="cpu", dtype="float32")
            print(f"vLLM {vllm.info['vllm']} engine start {time.perf_counter() - t0:.0f} s (not timed below)")
    print(f"{args.model}, fp32, {torch.get_num_threads()} thread(s), median of {args.rounds} interleaved rounds; "
          f"torch {torch.__version__}; {cpu_flags()}")
    results = {}
    try:
        for workload, requests in (("sampled", sampled), ("greedy", greedy)):
            methods = {"qdbench, one prefill per prompt": qdbench(True, requests),
                       "qdbench, one prefill per sample": qdbench(False, requests),
                       "HF generate called per sample": lambda requests=requests: hf_per_sample(hf, requests)}
            if lm is not None:
                methods["lm-eval 0.4 HFLM generate_until"] = lmeval_generate(lm, requests)
            if vllm is not None:
                methods["vLLM generate"] = lambda requests=requests: vllm.generate(requests)
            rounds = args.rounds if workload == "sampled" else 1
            timed, outs, loads = interleaved(methods, rounds)
            base_t = timed["s"]["HF generate called per sample"]
            ours = outs["qdbench, one prefill per prompt"]
            rows = {}
            for name in methods:
                t = timed["s"][name]
                rows[name] = {"s": statistics.median(t), "samples/s": len(requests) / statistics.median(t),
                              "cpu s": statistics.median(timed["cpu s"][name]),
                              "vs HF per sample": median_ratio(base_t, t),
                              "same text": sum(a == b for a, b in zip(outs[name], ours, strict=True)),
                              **quality(hf, requests, outs[name]), "rounds s": [round(x, 2) for x in t]}
            results[workload] = {"prompts": len(docs), "requests": len(requests), "loads": loads,
                                 "load after": load(), "rows": rows}
            k = args.samples if workload == "sampled" else 1
            print(f"\n{workload}: {len(docs)} prompts x {k} ({data.origin}), up to {requests[0].max_new_tokens} new "
                  f"tokens, temperature {requests[0].temperature}, top-p {requests[0].top_p}; loads per round "
                  f"{loads}, after {load()}")
            print(f"{'method':34} {'s':>7} {'cpu s':>7} {'samples/s':>9} {'vs HF/sample':>12} {'same text':>9} "
                  f"{'tokens':>6} {'ll/token ± 2 se':>16}")
            for name, r in rows.items():
                print(f"{name:34} {r['s']:7.2f} {r['cpu s']:7.2f} {r['samples/s']:9.2f} {r['vs HF per sample']:11.2f}x "
                      f"{r['same text']:>4}/{len(requests):<4} {r['mean tokens']:6.1f} "
                      f"{r['ll/token']:8.3f} ± {2 * r['ll/token sem']:.3f}")
    finally:
        if vllm is not None:
            vllm.close()
    ratio = results["sampled"]["rows"]["qdbench, one prefill per prompt"]["vs HF per sample"]
    print(f"\ntarget (k samples sharing one prefill >= {TARGET:.0f}x HF generate per sample): "
          f"{ratio:.2f}x, {'met' if ratio >= TARGET else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps({"model": args.model, "threads": torch.get_num_threads(), "cpu": cpu_flags(),
                                         "samples": args.samples, "workloads": results}, indent=1))


if __name__ == "__main__":
    main()
