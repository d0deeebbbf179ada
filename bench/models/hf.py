"""Hugging Face transformers backend: batched log-likelihoods on CPU or CUDA.

The context/continuation boundary follows lm-eval: trailing whitespace of the context moves to the
continuation, the pair is encoded whole, and the continuation is the tail of that encoding past the context's
own encoding. Requests are sorted by tokens and neighbours sharing a prefix become one prefix tree
(prefix_tree.py); the trees of a batch are laid end to end in one row without padding, attention per tree
(varlen.py), where the model type allows, else in padded rows; only the scored positions go through the output
projection and the fp32 log-softmax.

Generation runs `model.generate` (KV cache, stopping criteria checked on the recent tail only) after one
prefill per distinct prompt (shared_prefill.py: k samples of a prompt share it), and every request draws from
its own `torch.Generator` seeded with `request.seed`, on the model's device, so a request's text does not
depend on which other requests share its batch (up to the float rounding of batched matrix products) and a
base model and its variants see the same random streams.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

from bench.errors import UserError
from bench.models import varlen
from bench.models.backend import ALL_KINDS, BackendDefaults
from bench.models.batching import by_budget, by_sum
from bench.models.chat import ChatMixin, Spec, finish
from bench.models.device import is_oom, pick_device, resolve_dtype
from bench.models.host_memory import keep_freed_memory
from bench.models.loading import ModelRef, defined_parameters, load_causal_lm, load_tokenizer
from bench.models.prefix_tree import ROW_TOKENS, PrefixTree, key_cost, rows_sharing_prefixes
from bench.models.requests import GenerationRequest, LoglikelihoodRequest, LoglikelihoodResult
from bench.models.sampling import RowStop, SeededSampler, next_token  # noqa: F401  (next_token: tests use it here)
from bench.models.shared_prefill import prefill
from bench.models.tokens import split_pair, split_pairs


class HFBackend(ChatMixin, BackendDefaults):
    """Holds one loaded model and its tokenizer; answers log-likelihood, generation and chat requests."""

    name = "hf"
    kinds = ALL_KINDS

    def __init__(self, ref: ModelRef, *, device: str = "auto", dtype: str = "auto",
                 batch_tokens: int = 16384, max_batch_size: int = 64, trust_remote_code: bool = False,
                 pack: bool = True, model=None, tokenizer=None, batch_size: int | str | None = None,
                 device_map: str | None = None):
        import torch

        self.ref = ref
        self.device = pick_device(device)
        dtype = resolve_dtype(self.device, dtype)
        self.dtype = dtype
        if self.device == "cpu":
            keep_freed_memory()  # each forward reuses the last one's freed activations (host_memory.py)
        self.tokenizer = tokenizer or load_tokenizer(ref, trust_remote_code)
        extra = {"device_map": device_map} if device_map else {}
        self.model = model or load_causal_lm(ref, dtype=dtype, device=self.device,
                                             trust_remote_code=trust_remote_code, **extra)
        if device_map:  # inputs go where the first layer is
            self.device = str(self.model.get_input_embeddings().weight.device)
        if batch_size is not None and batch_size != "auto" and (not isinstance(batch_size, int) or batch_size < 1):
            raise UserError(f"--batch-size {batch_size!r}: expected a positive number of rows or 'auto'")
        self.batch_tokens = batch_tokens
        self.pack = pack
        self.max_batch_size = batch_size if isinstance(batch_size, int) else max_batch_size
        self.auto_batch = batch_size == "auto"
        self.oom_splits = 0
        self.max_length = int(getattr(self.model.config, "max_position_embeddings", 2048) or 2048)
        self._prefix = (self.tokenizer.bos_token_id if self.tokenizer.bos_token_id is not None
                        else self.tokenizer.eos_token_id)
        self._pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        self._torch = torch
        self._keeps_logits = "logits_to_keep" in inspect.signature(self.model.forward).parameters
        self.flat = varlen.supports(self.model)  # trees end to end in one row, no padding (varlen.py)
        self.share_prefill = True  # one prefill per distinct prompt of a generation batch (shared_prefill.py)
        matrices = sum(p.numel() for p in self.model.parameters() if p.dim() > 1)
        embeddings = self.model.get_input_embeddings()
        self._key_cost = key_cost(self.model.config, matrices - (embeddings.weight.numel() if embeddings else 0))

    def describe(self) -> dict:
        """The engine, and the model's parameters as its config defines them (auto_map code is read only with
        --trust-remote-code)."""
        config = self.model.config
        return {"backend": self.name, "device": self.device, "dtype": self.dtype,
                "parameters": defined_parameters(config, bool(getattr(config, "auto_map", None))),
                "config_commit": getattr(config, "_commit_hash", None)}

    # -- encoding -------------------------------------------------------------------------------------
    def encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """Token ids of context and continuation, split the way lm-eval splits them."""
        return split_pair(self.tokenizer, self._prefix, context, continuation)

    # -- scoring --------------------------------------------------------------------------------------
    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest],
                      progress: Callable[[int], None] | None = None) -> list[LoglikelihoodResult]:
        """Identical requests are scored once; requests whose contexts share a prefix are scored together as
        one token tree: each shared token once, each token attending to its own ancestors only (a tree mask),
        so k options cost one context, not k, and the questions asked of one passage cost one passage."""
        unique: dict[tuple[str, str], int] = {}
        slot = [unique.setdefault((r.context, r.continuation), len(unique)) for r in requests]
        pairs = split_pairs(self.tokenizer, self._prefix, list(unique))
        for (_, cont), (_, continuation) in zip(pairs, unique, strict=True):
            if not cont:
                raise ValueError(f"continuation {continuation!r} encodes to no tokens")
        scored = self._loglikelihood_unique(pairs, progress)
        return [scored[i] for i in slot]

    def _loglikelihood_unique(self, encoded: list[tuple[list[int], list[int]]],
                              progress: Callable[[int], None] | None) -> list[LoglikelihoodResult]:
        fits = [i for i, (ctx, cont) in enumerate(encoded) if len(ctx) + len(cont) <= self.max_length]
        single = [i for i in range(len(encoded)) if len(encoded[i][0]) + len(encoded[i][1]) > self.max_length]
        if not self.pack:
            single, fits = sorted(single + fits), []
        results: list[LoglikelihoodResult | None] = [None] * len(encoded)
        trees = [PrefixTree(encoded, row) for row in rows_sharing_prefixes(encoded, fits, ROW_TOKENS, self._key_cost)]
        trees.sort(key=lambda t: -t.size)
        if self.auto_batch and (trees or single):
            self._probe_budget(max([t.size for t in trees] + [len(encoded[i][0]) + len(encoded[i][1]) for i in single]))
        if self.flat:
            batches = by_sum(trees, lambda t: t.size, self.batch_tokens, self.max_batch_size)
            score = self._score_flat
        else:
            batches = by_budget(trees, lambda t: t.size, self.batch_tokens, self.max_batch_size)
            score = self._score_trees
        for batch in batches:
            for tree, res in zip(batch, self._backing_off(score, batch), strict=True):
                for i, r in zip(tree.members, res, strict=True):
                    results[i] = r
            if progress:
                    progress(sum(len(t.members) for t in batch))
        single.sort(key=lambda i: -(len(encoded[i][0]) + len(encoded[i][1])))

        def width(i: int) -> int:
            return min(len(encoded[i][0]) + len(encoded[i][1]) - 1, self.max_length)

        for batch in by_budget(single, width, self.batch_tokens, self.max_batch_size):
            for i, res in zip(batch, self._backing_off(self._score, [encoded[i] for i in batch]), strict=True):
                results[i] = res
            if progress:
                progress(len(batch))
        return results  # type: ignore[return-value]

    def _score_flat(self, trees: list[PrefixTree]) -> list[list[LoglikelihoodResult]]:
        return varlen.score_trees(self.model, trees, self.device)

    def _backing_off(self, score: Callable[[list], list], batch: list) -> list:
        """`score(batch)`, split in halves on out-of-memory (recursively, down to one row) so no request is
        lost; the token budget shrinks to what fitted, for the batches still to come."""
        try:
            return score(batch)
        except Exception as e:
            if not is_oom(e) or len(batch) == 1:
                raise
        self.oom_splits += 1
        if self.device.startswith("cuda"):
            self._torch.cuda.empty_cache()
        half = len(batch) // 2
        self.max_batch_size = max(1, min(self.max_batch_size, half))
        return self._backing_off(score, batch[:half]) + self._backing_off(score, batch[half:])

    def _probe_budget(self, width: int, ceiling: int = 1 << 20) -> None:
        """`--batch-size auto`: double a batch of rows as wide as the widest request until the device runs out
        of memory (or `ceiling` tokens), then keep half the largest that fitted as the token budget. Done once;
        an out-of-memory later still backs off batch by batch."""
        self.auto_batch = False
        width = max(1, min(width, self.max_length))
        rows, fitted = 1, 0
        while rows * width <= ceiling:
            try:
                with self._torch.inference_mode():
                    ids = self._torch.full((rows, width), self._pad, dtype=self._torch.long, device=self.device)
                    self.model(input_ids=ids, use_cache=False, **({"logits_to_keep": 1} if self._keeps_logits
                                                                   else {}))
            except Exception as e:
                if not is_oom(e):
                    raise
                break
            fitted, rows = rows, rows * 2
            if not self.device.startswith("cuda") and rows > 64:
                break  # host memory has no clean out-of-memory error: stop at a size that keeps CPU caches busy
        if self.device.startswith("cuda"):
            self._torch.cuda.empty_cache()
        self.max_batch_size = max(1, fitted if fitted < 2 else fitted // 2 * 2)
        self.batch_tokens = max(width, fitted * width // (2 if fitted > 1 else 1))

    def _score_trees(self, trees: list[PrefixTree]) -> list[list[LoglikelihoodResult]]:
        """Padded rows, for model types the unpadded path does not take (varlen.supports). One row per tree:
        [pad, shared part, scored part, pad], every row's scored part starting at the same column, so the
        positions whose logits are needed (the last context token and all but the last token of each
        continuation) occupy one band of columns and only that band goes through the output projection (on a
        49k vocabulary it would otherwise cost as much as the layers). Each token
        sits at its depth in the tree and attends to its ancestors only (a boolean mask, which SDPA takes as
        it is), so a token has exactly the hidden state it has in its own sequence."""
        torch = self._torch
        lead = max(t.n_shared for t in trees)
        width = lead + max(t.size - t.n_shared for t in trees)
        n = len(trees)
        ids = torch.full((n, width), self._pad, dtype=torch.long)
        positions = torch.zeros((n, width), dtype=torch.long)
        allowed = torch.zeros((n, width, width), dtype=torch.bool)
        allowed[:, torch.arange(width), torch.arange(width)] = True  # padding attends to itself: no NaN rows
        rows, cols, targets, lengths = [], [], [], []
        for row, t in enumerate(trees):
            first = lead - t.n_shared
            span = slice(first, first + t.size)
            ids[row, span] = torch.tensor(t.tokens)
            positions[row, span] = torch.tensor(t.depth)
            allowed[row, span, span] = torch.from_numpy(t.ancestors())
            for nodes, cont in t.scored:
                rows += [row] * len(nodes)
                cols += [first + c for c in nodes]
                targets += cont
                lengths.append(len(cont))
        keep = torch.arange(lead, width)
        kwargs = {"logits_to_keep": keep.to(self.device)} if self._keeps_logits else {}
        offset = lead if self._keeps_logits else 0
        with torch.inference_mode():
            logits = self.model(input_ids=ids.to(self.device), attention_mask=self._mask(allowed).to(self.device),
                                position_ids=positions.to(self.device), use_cache=False, **kwargs).logits
            picked = logits[torch.tensor(rows, device=logits.device), torch.tensor(cols, device=logits.device) - offset]
            flat = _token_results(picked, torch.tensor(targets), lengths)
        out, k = [], 0
        for t in trees:
            out.append(flat[k:k + len(t.scored)])
            k += len(t.scored)
        return out

    def _mask(self, allowed):
        """The block mask as the attention implementation takes it: boolean for SDPA, additive otherwise."""
        if getattr(self.model.config, "_attn_implementation", None) == "sdpa":
            return allowed[:, None]
        dtype = self.model.dtype
        return self._torch.zeros(allowed[:, None].shape, dtype=dtype).masked_fill(~allowed[:, None],
                                                                                   self._torch.finfo(dtype).min)

    def _left_pad(self, seqs: list[list[int]]):
        """(ids, attention mask, position ids) of left-padded rows: every row ends at the last column."""
        torch = self._torch
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self._pad, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for row, seq in enumerate(seqs):
            ids[row, width - len(seq):] = torch.tensor(seq)
            mask[row, width - len(seq):] = 1
        return ids, mask, (mask.cumsum(-1) - 1).clamp(min=0)

    def _score(self, pairs: list[tuple[list[int], list[int]]]) -> list[LoglikelihoodResult]:
        """Left-padded batch with explicit positions, so every continuation ends at the last column and
        only the last K columns need logits."""
        torch = self._torch
        inputs = [(ctx + cont)[-(self.max_length + 1):][:-1] for ctx, cont in pairs]
        keep = max(len(cont) for _, cont in pairs)
        ids, mask, positions = self._left_pad(inputs)
        kwargs = {"logits_to_keep": keep} if self._keeps_logits else {}
        with torch.inference_mode():
            logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                                position_ids=positions.to(self.device), use_cache=False, **kwargs).logits[:, -keep:]
            rows = [row for row, (_, cont) in enumerate(pairs) for _ in cont]
            cols = [j for _, cont in pairs for j in range(keep - len(cont), keep)]
            picked = logits[torch.tensor(rows, device=logits.device), torch.tensor(cols, device=logits.device)]
            return _token_results(picked, torch.tensor([t for _, cont in pairs for t in cont]),
                                  [len(cont) for _, cont in pairs])

    # -- generation -----------------------------------------------------------------------------------
    def generate(self, requests: Sequence[GenerationRequest],
                 progress: Callable[[int], None] | None = None) -> list[str]:
        """The continuation text of each request, cut before its first stop string (and at EOS)."""
        for r in requests:
            if r.max_new_tokens <= 0 or r.temperature < 0 or not 0 < r.top_p <= 1:
                raise ValueError(f"bad generation settings: {r}")
        prompts = [(self._encode(r.prompt) if r.prompt else [self._prefix]) for r in requests]
        specs = [Spec(r.max_new_tokens, r.temperature, r.top_p, r.seed, tuple(r.stop)) for r in requests]
        return [text for text, _, _ in self._generate_batched(prompts, specs, progress)]

    def _generate_batched(self, prompts: list[list[int]], specs: list[Spec],
                          progress: Callable[[int], None] | None = None) -> list[tuple[str, list[int], bool]]:
        """(text, new token ids, ended) per prompt; ended is False when the row used its whole budget."""
        order = sorted(range(len(prompts)), key=lambda i: (-len(prompts[i]), i))
        results: list = [None] * len(prompts)

        def width(i: int) -> int:
            return len(prompts[i]) + specs[i].max_new_tokens

        for batch in by_budget(order, width, self.batch_tokens, self.max_batch_size):
            for i, res in zip(batch, self._decode([prompts[i] for i in batch], [specs[i] for i in batch]),
                              strict=True):
                results[i] = res
            if progress:
                progress(len(batch))
        return results

    def _decode(self, prompts: list[list[int]], specs: list[Spec]) -> list[tuple[str, list[int], bool]]:
        """One `model.generate` call for a left-padded batch. Sampling is done by a logits processor that draws
        each row from its own seeded generator on the model's device, so a row's text does not depend on its
        batch; generate then takes the drawn token greedily."""
        torch = self._torch
        from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

        steps = max(s.max_new_tokens for s in specs)
        prompts = [p[-max(self.max_length - steps, 1):] for p in prompts]
        ids, mask, _ = self._left_pad(prompts)
        eos = self.tokenizer.eos_token_id
        config = GenerationConfig(max_new_tokens=steps, do_sample=False, pad_token_id=self._pad,
                                  eos_token_id=eos, bos_token_id=self.tokenizer.bos_token_id)
        processors = LogitsProcessorList()
        if any(s.temperature > 0 for s in specs):
            processors.append(SeededSampler(specs, self.device))
        criteria = StoppingCriteriaList([RowStop(specs, ids.shape[1], self.tokenizer)])
        cache = prefill(self.model, ids, mask, self.device) if self.share_prefill else None
        with torch.inference_mode():
            out = self.model.generate(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                                      generation_config=config, logits_processor=processors,
                                      stopping_criteria=criteria, past_key_values=cache)
        new = out[:, ids.shape[1]:].cpu().tolist()
        results = []
        for row, spec in zip(new, specs, strict=True):
            row = row[:spec.max_new_tokens]
            toks = row[:row.index(eos)] if eos in row else row
            results.append(finish(self.tokenizer, toks, spec, eos in row))
        return results


def _token_results(logits, targets, lengths: list[int]) -> list[LoglikelihoodResult]:
    """Per continuation: the summed fp32 log-probability of its tokens (rows of `logits`, in order) and
    whether each was the argmax."""
    return varlen.per_request(*varlen.token_parts(logits, targets), lengths)


