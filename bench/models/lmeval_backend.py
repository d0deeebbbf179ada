"""`--backend lm-eval:NAME`: qdbench's requests answered by any model lm-eval registers (hf, vllm, API models
such as openai-completions or local-completions), with qdbench's own tasks, items and metrics around it."""

from __future__ import annotations

from collections.abc import Sequence

from bench.errors import UserError
from bench.models.backend import BackendDefaults
from bench.models.requests import GenerationRequest, LoglikelihoodRequest, LoglikelihoodResult


class LMEvalBackend(BackendDefaults):
    """Log-likelihoods and generations through an lm-eval `LM`; no chat answers (lm-eval renders its own)."""

    kinds = frozenset({LoglikelihoodRequest, GenerationRequest})

    def __init__(self, model_name: str, ref, *, device: str = "auto", dtype: str = "auto",
                 batch_size: int | str | None = None, trust_remote_code: bool = False, model_args: str = ""):
        try:
            from lm_eval.api.registry import get_model
        except ImportError:
            raise UserError("--backend lm-eval:NAME needs lm-eval: pip install -c requirements/constraints.txt "
                            "'.[lmeval]'") from None
        try:
            cls = get_model(model_name)
        except (KeyError, ValueError) as e:
            raise UserError(f"--backend lm-eval:{model_name}: not an lm-eval model ({e})") from None
        from bench.models.device import pick_device, resolve_dtype

        self.name = f"lm-eval:{model_name}"
        self.device = pick_device(device)
        self.dtype = resolve_dtype(self.device, dtype)
        args = f"pretrained={ref.path},dtype={self.dtype},trust_remote_code={trust_remote_code}"
        if ref.revision:
            args += f",revision={ref.revision}"
        self.lm = cls.create_from_arg_string(model_args or args, {"batch_size": batch_size or 16,
                                                                  "device": self.device})

    def describe(self) -> dict:
        from bench.models.loading import defined_parameters

        config = getattr(getattr(self.lm, "model", None), "config", None)
        params = defined_parameters(config) if config is not None else None
        return {"backend": self.name, "device": self.device, "dtype": self.dtype, "parameters": params,
                "config_commit": None}

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest], progress=None) -> list[LoglikelihoodResult]:
        from lm_eval.api.instance import Instance

        inst = [Instance("loglikelihood", {}, (r.context, r.continuation), i) for i, r in enumerate(requests)]
        out = self.lm.loglikelihood(inst, disable_tqdm=True)
        return [LoglikelihoodResult(float(ll), bool(greedy), 0) for ll, greedy in out]

    def generate(self, requests: Sequence[GenerationRequest], progress=None) -> list[str]:
        """lm-eval takes no per-request seed: each request is sent alone after seeding torch with its seed, so
        a sample does not depend on its neighbours (slower, but reproducible)."""
        import torch
        from lm_eval.api.instance import Instance

        out = []
        for i, r in enumerate(requests):
            kwargs = {"until": list(r.stop), "max_gen_toks": r.max_new_tokens, "do_sample": r.temperature > 0}
            if r.temperature > 0:
                kwargs.update(temperature=r.temperature, top_p=r.top_p)
            torch.manual_seed(r.seed)
            out += self.lm.generate_until([Instance("generate_until", {}, (r.prompt, kwargs), i)], disable_tqdm=True)
        return out
