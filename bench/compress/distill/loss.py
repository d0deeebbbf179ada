"""The distillation objective, and the same KL measured on held-out text."""

from __future__ import annotations

from bench.compress.distill.data import token_chunks


def kd_terms(student_logits, teacher_logits, labels, temperature: float, ignore_index: int = -100):
    """Mean per-token CE(labels) and KL(softmax(z_t/T) ‖ softmax(z_s/T)) over positions whose label is kept.

    Logits are [N, V] and labels [N]; KL is None without teacher logits."""
    import torch.nn.functional as F

    keep = labels != ignore_index
    s = student_logits[keep].float()
    ce = F.cross_entropy(s, labels[keep])
    if teacher_logits is None:
        return ce, None
    log_ps = F.log_softmax(s / temperature, dim=-1)
    log_pt = F.log_softmax(teacher_logits[keep].float() / temperature, dim=-1)
    kl = (log_pt.exp() * (log_pt - log_ps)).sum(-1).mean()
    return ce, kl


def kd_loss(student_logits, teacher_logits, labels, temperature: float, alpha: float, ignore_index: int = -100):
    """α·CE + (1 − α)·T²·KL; the T² keeps the soft-target gradients on the same scale as T changes."""
    ce, kl = kd_terms(student_logits, teacher_logits, labels, temperature, ignore_index)
    if kl is None or alpha == 1:
        return ce
    return alpha * ce + (1 - alpha) * temperature**2 * kl


def topk_kl(student_logp_k, teacher_logp_k):
    """Per-position KL between the teacher's and the student's distributions coarsened to k + 1 outcomes: the
    teacher's top-k tokens, one by one, and everything else as one "tail" outcome.

    Both arguments are [N, k] log-probabilities (at the same temperature) of the teacher's top-k tokens. The
    tail masses are 1 − Σ top-k (exact: the cache stores log-probabilities normalized over the whole vocabulary
    at T). This equals the full KL when the teacher puts no mass outside its top k and is a lower bound
    otherwise (coarse-graining never increases KL): the student learns the teacher's top-k probabilities and
    how much mass to leave outside them, not how to spread that mass. Measured on SmolLM2 (benchmarks/distill.md):
    the mass outside the top 64 is 12% at T = 1, 75% at T = 2 and 97% at T = 4, so at high temperatures most of
    the soft target is the tail's total; `topk: 0` trains on the full distribution instead. Returns [N]."""
    import torch

    pt = teacher_logp_k.exp()
    pt_tail = (1 - pt.sum(-1)).clamp_min(0)
    s_in = torch.logsumexp(student_logp_k, -1).clamp_max(0)
    s_tail = torch.log((-torch.expm1(s_in)).clamp_min(1e-30))  # log(1 − Σ p_s,k), stable near 0
    head = (pt * (teacher_logp_k - student_logp_k)).sum(-1)
    return head + torch.xlogy(pt_tail, pt_tail) - pt_tail * s_tail


def topk_kd_terms(student_logits, teacher_idx, teacher_logp, labels, temperature: float,
                  ignore_index: int = -100, reduction: str = "mean"):
    """CE(labels) and the top-k + tail KL of `topk_kl` for [N, V] student logits against the teacher's cached
    [N, k] top-k token ids and log-probabilities at `temperature`; KL is None without them."""
    import torch.nn.functional as F

    keep = labels != ignore_index
    s = student_logits[keep].float()
    log_p1 = F.log_softmax(s, dim=-1)
    ce = F.nll_loss(log_p1, labels[keep], reduction=reduction)
    if teacher_idx is None:
        return ce, None
    log_ps = log_p1 if temperature == 1 else F.log_softmax(s / temperature, dim=-1)
    kl = topk_kl(log_ps.gather(1, teacher_idx[keep].long()), teacher_logp[keep].float())
    return ce, kl.mean() if reduction == "mean" else kl.sum()


def topk_kd_loss(student_logits, teacher_idx, teacher_logp, labels, temperature: float, alpha: float,
                 ignore_index: int = -100):
    """α·CE + (1 − α)·T²·KL_topk: the objective of `kd_loss` with the teacher read from its top-k cache."""
    ce, kl = topk_kd_terms(student_logits, teacher_idx, teacher_logp, labels, temperature, ignore_index)
    if kl is None or alpha == 1:
        return ce
    return alpha * ce + (1 - alpha) * temperature**2 * kl


def held_out_kl(teacher, student, documents: list[str], tokenizer, seq_len: int = 64) -> float:
    """Mean per-token KL(p_teacher ‖ p_student) at T = 1 over chunks of held-out text."""
    import torch

    chunks, _ = token_chunks(documents, tokenizer, seq_len)
    total, n = 0.0, 0
    with torch.no_grad():
        for i in range(0, chunks.shape[0], 8):
            ids = chunks[i:i + 8]
            labels = ids[:, 1:].flatten()
            _, kl = kd_terms(student(input_ids=ids).logits[:, :-1].flatten(0, 1),
                             teacher(input_ids=ids).logits[:, :-1].flatten(0, 1), labels, 1.0)
            total += float(kl) * labels.numel()
            n += labels.numel()
    return total / n
