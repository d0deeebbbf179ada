"""Sentence scoring speed (StereoSet, CrowS-Pairs): qdbench's HF scorer (prefix trees end to end without
padding; the same trees in padded rows; one sequence per sentence), lm-eval's HFLM (`loglikelihood_rolling`
for whole sentences, `loglikelihood` for StereoSet's intersentence continuations) and vLLM, on the same items
and loaded weights.

    OMP_NUM_THREADS=2 python benchmarks/sentence_scoring.py --model builtin:smollm2-135m
        [--stereoset-dir ../shared/data/stereoset] [--crows-dir ../shared/data/crows_pairs] [--items 60]
        [--rounds 3] [--bf16] [--no-lmeval] [--no-vllm] [--json OUT.json]

Items are a seeded sample stratified by the task's groups (what `--limit N` draws). StereoSet's three
intrasentence candidates are whole sentences sharing every token up to the blank; its intersentence candidates
share their context; CrowS-Pairs' two sentences share their beginning where they differ late. The prefix trees
score each shared token once. Agreement is per sentence (max |dLL| against one sequence per sentence) and per
item (the same ranking of its sentences by log-likelihood, the order both tasks' outcomes come from). Methods
run interleaved, figures are medians over rounds of within-round ratios (against lm-eval, and against the FLOP
floor of bbq_scoring.py at the GEMM rate measured just before the method ran); load per round is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.threads import wait_passively  # noqa: E402

wait_passively()  # as `qdbench` does, before torch loads the OpenMP runtime (bench/threads.py)
import torch  # noqa: E402

from benchmarks.timing import cpu_flags, floor_flops, gemm_rate, interleaved, load, median_ratio  # noqa: E402

TARGETS = {"vs lm-eval": 3.0, "stereoset clusters/s (2 threads)": 10.0}
DATA = {"stereoset": "stereoset", "crows_pairs": "crows_pairs"}


def ranking(out: list, per_item: list) -> list[tuple[int, ...]]:
    k, res = 0, []
    for rs in per_item:
        lls = [o.logprob for o in out[k:k + len(rs)]]
        res.append(tuple(sorted(range(len(lls)), key=lambda j: -lls[j])))
        k += len(rs)
    return res


def lmeval_method(lm, requests):
    """lm-eval's own way: a whole sentence (empty context) through `loglikelihood_rolling`, a continuation of a
    context through `loglikelihood`. `lm` is (HFLM adding the tokenizer's start token to a context, HFLM that
    does not: the rolling windows start from the prefix token, BOS, and encode the sentence without special
    tokens, which is qdbench's empty-context split)."""
    with_bos, without = lm
    from lm_eval.api.instance import Instance

    rolling = [i for i, r in enumerate(requests) if not r.context]
    cont = [i for i, r in enumerate(requests) if r.context]
    roll_inst = [Instance("loglikelihood_rolling", {}, (requests[i].continuation,), k) for k, i in enumerate(rolling)]
    cont_inst = [Instance("loglikelihood", {}, (requests[i].context, requests[i].continuation), k)
                 for k, i in enumerate(cont)]

    def run():
        out: list = [None] * len(requests)
        if roll_inst:
            for i, ll in zip(rolling, without.loglikelihood_rolling(roll_inst, disable_tqdm=True), strict=True):
                out[i] = type("R", (), {"logprob": ll})()
        if cont_inst:
            for i, (ll, _) in zip(cont, with_bos.loglikelihood(cont_inst, disable_tqdm=True), strict=True):
                out[i] = type("R", (), {"logprob": ll})()
        return out
    return run


def run_task(name: str, data_dir: Path | None, args, hf, hf16, lm, vllm) -> dict:
    from bench.data import store
    from bench.data.sampling import stratified_sample
    from bench.tasks.registry import get_task

    task = get_task(name)
    data = store.load(task.spec, data_dir)
    if data.origin == "sample":
        sys.exit(f"sentence_scoring: no {name} data: pass --{'stereoset' if name == 'stereoset' else 'crows'}-dir")
    docs = [data.docs[i] for i in stratified_sample(data.docs, args.items, task.spec.stratify_by, seed=0)]
    per_item = [task.requests(d) for d in docs]
    requests = [r for rs in per_item for r in rs]
    pairs = [hf.encode_pair(r.context, r.continuation) for r in requests]

    def scorer(flat: bool, pack: bool = True, backend=hf):
        default = backend.flat

        def run():
            backend.flat, backend.pack = flat and default, pack
            try:
                return backend.loglikelihood(requests)
            finally:
                backend.flat, backend.pack = default, True
        return run

    fp32 = torch.float32
    methods = {"qdbench packed, no padding": (scorer(True), fp32), "qdbench packed, padded rows": (scorer(False), fp32),
               "qdbench one sequence per sentence": (scorer(False, pack=False), fp32)}
    if hf16 is not None:
        methods["qdbench packed, no padding, bf16"] = (scorer(True, backend=hf16), torch.bfloat16)
    if lm is not None:
        methods["lm-eval 0.4 HFLM (rolling)"] = (lmeval_method(lm, requests), fp32)
    if vllm is not None:
        methods["vLLM prompt_logprobs"] = (lambda: vllm.loglikelihood(requests), fp32)
    floor = floor_flops(hf.model, {(tuple(c), tuple(t)) for c, t in pairs})
    timed, outs, loads = interleaved({k: fn for k, (fn, _) in methods.items()}, args.rounds,
                                     before=lambda name: gemm_rate(dtype=methods[name][1]))
    reference = outs["qdbench one sequence per sentence"]
    ref_rank = ranking(reference, per_item)
    lm_t = timed["s"].get("lm-eval 0.4 HFLM (rolling)")
    rows = {}
    for m in methods:
        t = timed["s"][m]
        diffs = [abs(a.logprob - b.logprob) for a, b in zip(outs[m], reference, strict=True)]
        rows[m] = {"s": statistics.median(t), "items/s": len(docs) / statistics.median(t),
                   "cpu s": statistics.median(timed["cpu s"][m]),
                   "sentences/s": len(requests) / statistics.median(t),
                   "vs lm-eval": median_ratio(lm_t, t) if lm_t else None, "max |dLL|": max(diffs),
                   "of floor": statistics.median(floor / rate / x for rate, x in zip(timed["before"][m], t,
                                                                                      strict=True)),
                   "same ranking": sum(a == b for a, b in zip(ranking(outs[m], per_item), ref_rank, strict=True)),
                   "rounds s": [round(x, 2) for x in t]}
    return {"task": name, "items": len(docs), "sentences": len(requests), "origin": data.origin,
            "input tokens": sum(len(c) + len(t) - 1 for c, t in pairs),
            "distinct prefix tokens": len({tuple(s[:j]) for c, t in pairs for s in [c + t[:-1]]
                                           for j in range(1, len(s) + 1)}),
            "loads": loads, "load after": load(), "rows": rows}


def print_task(res: dict) -> None:
    unit = "clusters" if res["task"] == "stereoset" else "pairs"
    print(f"\n{res['task']}: {res['items']} {unit} ({res['origin']}, stratified sample), {res['sentences']} "
          f"sentences, {res['input tokens']} input tokens, {res['distinct prefix tokens']} distinct prefixes; "
          f"loads per round {res['loads']}, after {res['load after']}")
    print(f"{'method':36} {'s':>7} {'cpu s':>7} {unit + '/s':>10} {'sent/s':>8} {'vs lm-eval':>10} {'of floor':>8} "
          f"{'max |dLL|':>10} {'same rank':>9}")
    for name, r in res["rows"].items():
        ratio = f"{r['vs lm-eval']:.2f}x" if r["vs lm-eval"] else "-"
        print(f"{name:36} {r['s']:7.2f} {r['cpu s']:7.2f} {r['items/s']:10.2f} {r['sentences/s']:8.1f} {ratio:>10} "
              f"{r['of floor']:8.1%} {r['max |dLL|']:10.2e} {r['same ranking']:>4}/{res['items']}")


def main() -> None:
    from bench.models.hf import HFBackend
    from bench.models.loading import resolve

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="builtin:smollm2-135m")
    p.add_argument("--items", type=int, default=60)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--stereoset-dir", type=Path, help="published StereoSet files (default: imported data)")
    p.add_argument("--crows-dir", type=Path, help="published CrowS-Pairs files (default: imported data)")
    p.add_argument("--tasks", default="stereoset,crows_pairs")
    p.add_argument("--bf16", action="store_true", help="also the packed scorer in bfloat16, against fp32 (its "
                   "floor at the bf16 GEMM rate)")
    p.add_argument("--no-lmeval", action="store_true")
    p.add_argument("--no-vllm", action="store_true")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    ref = resolve(args.model)
    hf = HFBackend(ref, device="cpu", dtype="float32")
    hf16 = HFBackend(ref, device="cpu", dtype="bfloat16", tokenizer=hf.tokenizer) if args.bf16 else None
    lm = None
    if not args.no_lmeval:
        from lm_eval.models.huggingface import HFLM

        lm = tuple(HFLM(pretrained=hf.model, tokenizer=hf.tokenizer, batch_size=64, add_bos_token=bos, device="cpu")
                   for bos in (True, False))
    vllm = None
    if not args.no_vllm:
        from bench.models.vllm_backend import VLLMBackend, vllm_python

        if vllm_python():
            t0 = time.perf_counter()
            vllm = VLLMBackend(ref, device="cpu", dtype="float32")
            print(f"vLLM {vllm.info['vllm']} engine start {time.perf_counter() - t0:.0f} s (not timed below)")
    print(f"{args.model}, fp32, {torch.get_num_threads()} thread(s), median of {args.rounds} interleaved rounds; "
          f"torch {torch.__version__}; {cpu_flags()}")
    dirs = {"stereoset": args.stereoset_dir, "crows_pairs": args.crows_dir}
    results = []
    try:
        for name in args.tasks.split(","):
            results.append(run_task(name, dirs[name], args, hf, hf16, lm, vllm))
            print_task(results[-1])
    finally:
        if vllm is not None:
            vllm.close()
    if args.json:
        args.json.write_text(json.dumps({"model": args.model, "threads": torch.get_num_threads(), "cpu": cpu_flags(),
                                         "tasks": results}, indent=1))


if __name__ == "__main__":
    main()
