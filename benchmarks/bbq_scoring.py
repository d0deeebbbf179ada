"""BBQ multiple-choice scoring speed on the items users score: qdbench's HF scorer (prefix trees end to end
without padding; the same trees in padded rows; one sequence per option), lm-eval's HFLM and vLLM on the same
items and the same loaded weights, with per-item agreement and the share of the FLOP floor.

    OMP_NUM_THREADS=1 python benchmarks/bbq_scoring.py --model builtin:smollm2-135m --data-dir ../shared/data/bbq
        [--items 40] [--rounds 3] [--layout both|stratified|contiguous] [--bf16] [--no-lmeval] [--no-vllm]
        [--sample-data] [--json OUT.json]

Data: `--data-dir` (published files) or what `qdbench data import bbq` imported; the shipped 64-item sample
only with `--sample-data`, labelled as such (its short contexts flatter every ratio). Both item layouts are
reported: a stratified sample (what `--limit N` draws: two items rarely share a passage) and contiguous items
(the first of each category file, as a whole-data-set run sees them: BBQ asks two questions of each passage,
ambiguous and disambiguated, so passages are shared).

Methods run interleaved (A B C D, A B C D, ...), and every figure is the median over rounds of a ratio taken
within the round: against lm-eval's time in the same round, and against the floor at the GEMM rate measured
just before the method ran, so load drifting between rounds hits numerator and denominator alike. The load
average is printed per round. vLLM runs where an environment has it (`make vllm-env` or QDBENCH_VLLM_PYTHON);
its engine start is not timed, and its worker may use every core (its row is an upper bound).

The floor is what the best kernel would need on this machine at the measured rate of a 1024³ GEMM (fp32, or
bf16 for the bf16 row) on this thread count, counting each distinct prefix once (a token shared by several
requests at the same place is one computation; a continuation's last token is never input):
  2·P·(distinct prefix tokens)                                           layers' weights, P non-embedding params
+ 2·d·V·(scored positions)                                               output projection where it is needed
+ 4·d·L·Σ_token (its depth: the keys it attends to)                      attention scores and values
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.timing import cpu_flags, floor_flops, gemm_rate, interleaved, load, median_ratio  # noqa: E402

TARGETS = {"vs lm-eval": 5.0, "of floor": 0.60, "max |dLL|": 1e-4}


def pick_docs(docs: list[dict], n: int, layout: str, stratify_by) -> list[dict]:
    from bench.data.sampling import stratified_sample

    if layout == "stratified":
        return [docs[i] for i in stratified_sample(docs, n, stratify_by, seed=0)]
    by_category: dict[str, list] = {}
    for d in docs:
        by_category.setdefault(d["category"], []).append(d)
    per = -(-n // len(by_category))
    return [d for ds in by_category.values() for d in ds[:per]][:n]


def picks(out: list, per_item: list) -> list[int]:
    k, res = 0, []
    for rs in per_item:
        lls = [o.logprob for o in out[k:k + len(rs)]]
        res.append(lls.index(max(lls)))
        k += len(rs)
    return res


def run_layout(args, layout: str, task, data, hf, hf16, lm, vllm) -> dict:
    from bench.models.cached_backend import CachedBackend
    from bench.models.loading import fingerprint
    from bench.store.request_cache import RequestCache, model_key

    docs = pick_docs(data.docs, args.items, layout, task.spec.stratify_by)
    per_item = [task.requests(d) for d in docs]
    requests = [r for rs in per_item for r in rs]
    pairs = {tuple(map(tuple, hf.encode_pair(r.context, r.continuation))) for r in requests}
    floor = floor_flops(hf.model, pairs)

    def scorer(flat: bool, pack: bool = True, backend=hf):
        default = backend.flat  # False where the model type has no unpadded path

        def run():
            backend.flat, backend.pack = flat and default, pack
            try:
                return backend.loglikelihood(requests)
            finally:
                backend.flat, backend.pack = default, True
        return run

    methods = {"qdbench packed, no padding": (scorer(True), torch.float32),
               "qdbench packed, padded rows": (scorer(False), torch.float32),
               "qdbench one sequence per option": (scorer(False, pack=False), torch.float32)}
    if hf16 is not None:
        methods["qdbench packed, no padding, bf16"] = (scorer(True, backend=hf16), torch.bfloat16)
    if lm is not None:
        from lm_eval.api.instance import Instance

        inst = [Instance("loglikelihood", {}, (r.context, r.continuation), i) for i, r in enumerate(requests)]
        methods["lm-eval 0.4 HFLM"] = (lambda: [type("R", (), {"logprob": ll})()
                                                for ll, _ in lm.loglikelihood(inst, disable_tqdm=True)],
                                       torch.float32)
    if vllm is not None:
        methods["vLLM prompt_logprobs"] = (lambda: vllm.loglikelihood(requests), torch.float32)
    timed, outs, loads = interleaved({k: fn for k, (fn, _) in methods.items()}, args.rounds,
                                     before=lambda name: gemm_rate(dtype=methods[name][1]))

    with tempfile.TemporaryDirectory() as tmp:  # first run fills the request cache, the re-run reads it
        key = model_key(fingerprint(Path(hf.ref.path)), None, "hf", "float32@cpu")
        t0 = time.perf_counter()
        CachedBackend(lambda: hf, RequestCache(key, Path(tmp))).loglikelihood(requests)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        cached = CachedBackend(lambda: None, RequestCache(key, Path(tmp))).loglikelihood(requests)
        rerun = time.perf_counter() - t0
        assert [c.logprob for c in cached] == [o.logprob for o in outs["qdbench packed, no padding"]]

    reference = outs["qdbench one sequence per option"]
    ref_picks = picks(reference, per_item)
    lm_times = timed["s"].get("lm-eval 0.4 HFLM")
    rows = {}
    for name in methods:
        diffs = [abs(a.logprob - b.logprob) for a, b in zip(outs[name], reference, strict=True)]
        t = timed["s"][name]
        rows[name] = {"s": statistics.median(t), "items/s": len(docs) / statistics.median(t),
                      "cpu s": statistics.median(timed["cpu s"][name]),
                      "vs lm-eval": median_ratio(lm_times, t) if lm_times else None,
                      "of floor": statistics.median(floor / rate / x for rate, x in zip(timed["before"][name], t,
                                                                                           strict=True)),
                      "max |dLL|": max(diffs), "median |dLL|": statistics.median(diffs),
                      "same pick": sum(a == b for a, b in zip(picks(outs[name], per_item), ref_picks, strict=True)),
                      "rounds s": [round(x, 2) for x in t]}
    n_tokens = sum(len(c) + len(t) - 1 for c, t in pairs)
    return {"layout": layout, "items": len(docs), "requests": len(requests), "input tokens": n_tokens,
            "distinct prefix tokens": len({s[:j] for c, t in pairs for s in [c + t[:-1]]
                                           for j in range(1, len(s) + 1)}),
            "floor GFLOP": floor / 1e9, "loads": loads, "load after": load(), "rows": rows,
            "cache": {"first s": first, "rerun s": rerun}}


def print_layout(res: dict, head: str) -> None:
    print(f"\n{res['items']} BBQ items ({head}, {res['layout']}) x 3 options: {res['input tokens']} input tokens, "
          f"{res['distinct prefix tokens']} distinct prefixes; loads per round {res['loads']}, after "
          f"{res['load after']}")
    print(f"{'method':36} {'s':>7} {'cpu s':>7} {'items/s':>8} {'vs lm-eval':>10} {'of floor':>8} {'max |dLL|':>10} "
          f"{'med |dLL|':>10} {'same pick':>9}")
    for name, r in res["rows"].items():
        ratio = f"{r['vs lm-eval']:.2f}x" if r["vs lm-eval"] else "-"
        print(f"{name:36} {r['s']:7.2f} {r['cpu s']:7.2f} {r['items/s']:8.2f} {ratio:>10} {r['of floor']:8.1%} "
              f"{r['max |dLL|']:10.2e} "
              f"{r['median |dLL|']:10.2e} {r['same pick']:>4}/{res['items']}")
    c = res["cache"]
    print(f"request cache: first run {c['first s']:.2f} s, fully cached re-run {c['rerun s']:.3f} s")
    best = res["rows"]["qdbench packed, no padding"]
    if best["vs lm-eval"] is not None:
        ok = (best["vs lm-eval"] >= TARGETS["vs lm-eval"] and best["of floor"] >= TARGETS["of floor"]
              and best["max |dLL|"] <= TARGETS["max |dLL|"] and best["same pick"] == res["items"])
        print(f"targets (>= {TARGETS['vs lm-eval']:.0f}x lm-eval, >= {TARGETS['of floor']:.0%} of floor, equal "
              f"picks, |dLL| <= {TARGETS['max |dLL|']:.0e}): {'met' if ok else 'NOT met'}")


def main() -> None:
    from bench.data import store
    from bench.errors import UserError
    from bench.models.hf import HFBackend
    from bench.models.loading import resolve
    from bench.tasks.registry import get_task

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="builtin:smollm2-135m")
    p.add_argument("--items", type=int, default=40)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds; figures are medians")
    p.add_argument("--data-dir", type=Path, help="published BBQ files (default: imported data)")
    p.add_argument("--sample-data", action="store_true", help="the shipped 64-item sample (flatters every ratio)")
    p.add_argument("--layout", choices=("both", "stratified", "contiguous"), default="both")
    p.add_argument("--bf16", action="store_true", help="also the packed scorer in bfloat16, against fp32")
    p.add_argument("--no-lmeval", action="store_true")
    p.add_argument("--no-vllm", action="store_true")
    p.add_argument("--json", type=Path, help="write every figure here")
    args = p.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

    task = get_task("bbq")
    try:
        data = store.load(task.spec, args.data_dir, sample=args.sample_data)
    except UserError as e:
        sys.exit(f"bbq_scoring: {e}")
    if data.origin == "sample" and not args.sample_data:
        sys.exit("bbq_scoring: no BBQ data imported: pass --data-dir (e.g. ../shared/data/bbq) or, to time the "
                 "shipped 64-item sample, --sample-data")
    head = ("SHIPPED SAMPLE: short contexts, flatters every ratio" if data.origin == "sample"
            else f"published files, {data.origin}")
    ref = resolve(args.model)
    hf = HFBackend(ref, device="cpu", dtype="float32")
    hf16 = None
    if args.bf16:
        hf16 = HFBackend(ref, device="cpu", dtype="bfloat16", tokenizer=hf.tokenizer)
    lm = None
    if not args.no_lmeval:
        try:
            from lm_eval.models.huggingface import HFLM

            lm = HFLM(pretrained=hf.model, tokenizer=hf.tokenizer, batch_size=64, add_bos_token=True, device="cpu")
        except ImportError:
            print("lm-eval not installed: pip install -c requirements/constraints.txt '.[lmeval]'")
    vllm = None
    if not args.no_vllm:
        from bench.models.vllm_backend import VLLMBackend, vllm_python

        if vllm_python():
            t0 = time.perf_counter()
            vllm = VLLMBackend(ref, device="cpu", dtype="float32")
            print(f"vLLM {vllm.info['vllm']} engine start {time.perf_counter() - t0:.0f} s (not timed below)")
        else:
            print("vLLM not available: make vllm-env, or set QDBENCH_VLLM_PYTHON")
    params = sum(t.numel() for t in hf.model.parameters() if t.dim() > 1)
    print(f"{args.model} ({params / 1e6:.1f}M params in matrices), fp32, {torch.get_num_threads()} thread(s), "
          f"median of {args.rounds} interleaved rounds; torch {torch.__version__}; {cpu_flags()}")
    layouts = ["stratified", "contiguous"] if args.layout == "both" else [args.layout]
    results = []
    try:
        for layout in layouts:
            results.append(run_layout(args, layout, task, data, hf, hf16, lm, vllm))
            print_layout(results[-1], head)
    finally:
        if vllm is not None:
            vllm.close()
    if args.json:
        args.json.write_text(json.dumps({"model": args.model, "threads": torch.get_num_threads(), "data": head,
                                         "cpu": cpu_flags(), "layouts": results}, indent=1))


if __name__ == "__main__":
    main()
