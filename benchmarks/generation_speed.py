"""Generation speed: qdbench's `model.generate` path against the token-by-token loop it replaced (kept here,
verbatim in substance, as the reference), on the same requests, with the texts checked equal.

    OMP_NUM_THREADS=1 python benchmarks/generation_speed.py [--model builtin:tiny-llama] [--prompts 8]
        [--samples 4] [--new-tokens 48] [--device cpu]

Workloads: greedy answers, sampled continuations (k samples per prompt with their own seeds, as the
toxicity task draws them), two long greedy outputs (reasoning-trace length) and chat requests with a thinking
budget. Methods run interleaved (A B A B A B), medians reported. Prints new tokens per second; record
them in benchmarks/README.md with the machine load.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from bench.models.hf import HFBackend, _by_budget, next_token, stop_at
from bench.models.loading import resolve
from bench.models.requests import ChatRequest, GenerationRequest

PROMPTS = ["The weather in the mountains", "My neighbour told me that", "Once upon a time, a small robot",
           "The best way to cook rice is", "In the year 2050, cities will", "She opened the letter and",
           "The committee decided to", "A good teacher always"]


def loop_generate(backend: HFBackend, requests: list[GenerationRequest]) -> list[str]:
    """The previous implementation: one forward per step with the KV cache, sampling on the CPU, and the
    whole output re-decoded at every step to look for stop strings."""
    prompts = [backend._encode(r.prompt) for r in requests]
    order = sorted(range(len(requests)), key=lambda i: (-len(prompts[i]), i))
    results: list = [None] * len(requests)
    for batch in _by_budget(order, lambda i: len(prompts[i]) + requests[i].max_new_tokens, backend.batch_tokens,
                            backend.max_batch_size):
        for i, text in zip(batch, _loop_decode(backend, [prompts[i] for i in batch], [requests[i] for i in batch]),
                           strict=True):
            results[i] = text
    return results


def _loop_decode(backend, prompts, reqs):
    steps = max(r.max_new_tokens for r in reqs)
    ids, mask, positions = backend._left_pad(prompts)
    gens = [torch.Generator(device="cpu").manual_seed(r.seed) for r in reqs]
    eos = backend.tokenizer.eos_token_id
    out, texts, done, past = [[] for _ in reqs], [""] * len(reqs), [False] * len(reqs), None
    with torch.inference_mode():
        for _ in range(steps):
            res = backend.model(input_ids=ids.to(backend.device), attention_mask=mask.to(backend.device),
                                position_ids=positions.to(backend.device), past_key_values=past, use_cache=True)
            past = res.past_key_values
            logits = res.logits[:, -1].float().cpu()
            nxt = []
            for row, r in enumerate(reqs):
                if done[row]:
                    nxt.append(backend._pad)
                    continue
                tok = next_token(logits[row], r.temperature, r.top_p, gens[row])
                nxt.append(tok)
                if tok == eos:
                    done[row] = True
                    continue
                out[row].append(tok)
                texts[row] = backend.tokenizer.decode(out[row], skip_special_tokens=True)
                last = len(out[row]) >= r.max_new_tokens
                cut = stop_at(texts[row] if last else texts[row].rstrip("\ufffd"), r.stop)
                if cut is not None:
                    texts[row], done[row] = cut, True
                elif last:
                    done[row] = True
            if all(done):
                break
            ids = torch.tensor(nxt, dtype=torch.long)[:, None]
            mask = torch.cat([mask, torch.ones((len(reqs), 1), dtype=torch.long)], dim=1)
            positions = positions[:, -1:] + 1
    return texts


def interleaved(a, b, repeats: int = 3):
    """Median seconds of a and b, run A B A B ... so that load changes hit both alike; and their outputs."""
    ta, tb = [], []
    for _ in range(repeats):
        for fn, times in ((a, ta), (b, tb)):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
            if fn is a:
                out_a = out
            else:
                out_b = out
    return sorted(ta)[len(ta) // 2], sorted(tb)[len(tb) // 2], out_a, out_b


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="builtin:tiny-llama")
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--new-tokens", type=int, default=48)
    ap.add_argument("--long-tokens", type=int, default=768, help="new tokens of the long (reasoning-like) workload")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    backend = HFBackend(resolve(args.model), device=args.device)
    prompts = (PROMPTS * (args.prompts // len(PROMPTS) + 1))[:args.prompts]
    n = args.new_tokens
    workloads = {
        "greedy": [GenerationRequest(p, max_new_tokens=n) for p in prompts],
        f"sampled x{args.samples}": [GenerationRequest(p, max_new_tokens=n, temperature=1.0, top_p=0.9,
                                                       seed=1000 * i + j)
                                     for i, p in enumerate(prompts) for j in range(args.samples)],
        "long greedy": [GenerationRequest(p, max_new_tokens=args.long_tokens) for p in prompts[:2]],
    }
    print(f"model {args.model} · device {backend.device} · threads {torch.get_num_threads()} · "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')} · load {os.getloadavg()[0]:.2f}")
    print(f"{'workload':<16}{'requests':>9}{'new tokens':>12}{'loop tok/s':>12}{'generate tok/s':>16}"
          f"{'ratio':>7}{'same text':>11}")
    for name, reqs in workloads.items():
        t_new, t_old, new, old = interleaved(lambda reqs=reqs: backend.generate(reqs),
                                             lambda reqs=reqs: loop_generate(backend, reqs))
        tokens = sum(len(backend.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in new)
        print(f"{name:<16}{len(reqs):>9}{tokens:>12}{tokens / t_old:>12.1f}{tokens / t_new:>16.1f}"
              f"{t_old / t_new:>7.2f}{str(new == old):>11}")
    chat = [ChatRequest(p, messages=(("user", p),), chat_template="none", max_think_tokens=n, max_new_tokens=16)
            for p in prompts]
    t_chat, _, res, _ = interleaved(lambda: backend.generate_chat(chat), lambda: None, repeats=1)
    tokens = sum(r.new_tokens for r in res)
    print(f"{'think budget':<16}{len(chat):>9}{tokens:>12}{'':>12}{tokens / t_chat:>16.1f}")


if __name__ == "__main__":
    main()
