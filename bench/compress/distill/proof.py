"""Proof that distillation happened: on held-out text, the student's KL divergence from its teacher and its
perplexity, with intervals over documents, next to its non-distilled control's, and a verdict.

A KD student and its control (`no_teacher`: same init, data order, steps and seed, hard labels only) differ only
in the teacher's soft targets, so a KD student that is not significantly closer to the teacher than its
control (paired over the same documents) has not learned from the teacher: it is reported as "not a distilled
model". Scores are per document (summed per-token KL at T = 1 and NLL, and the token count), stored in the
student's provenance, so the comparison with a control built later needs no model run. Intervals: percentile
bootstrap over documents (the documents are the sampling unit; tokens within one are not independent) of the
token-weighted mean; the KD − control difference resamples the same documents for both.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

N_BOOT = 2000
MAX_TOKENS = 256
PROVENANCE = "qdbench_variant.json"


def _fingerprint(docs: list[str]) -> str:
    return hashlib.sha256(json.dumps(docs).encode()).hexdigest()


def document_scores(teacher, student, tokenizer, documents: list[str], batch: int = 8) -> dict:
    """Per document: summed KL(p_teacher ‖ p_student) at T = 1 over its next-token positions, the student's and
    the teacher's summed NLL, and the number of positions (documents cut at MAX_TOKENS tokens)."""
    import torch
    import torch.nn.functional as F

    kl, nll, t_nll, tokens = [], [], [], []
    enc_all = [tokenizer(d)["input_ids"][:MAX_TOKENS] for d in documents]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    with torch.no_grad():
        for i in range(0, len(enc_all), batch):
            rows = enc_all[i:i + batch]
            width = max(len(r) for r in rows)
            ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
            mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
            ls = F.log_softmax(student(input_ids=ids, attention_mask=mask).logits[:, :-1].float(), -1)
            lt = F.log_softmax(teacher(input_ids=ids, attention_mask=mask).logits[:, :-1].float(), -1)
            keep = mask[:, 1:].bool()
            target = ids[:, 1:].unsqueeze(-1)
            per_kl = (lt.exp() * (lt - ls)).sum(-1) * keep
            per_nll = -ls.gather(-1, target).squeeze(-1) * keep
            per_tnll = -lt.gather(-1, target).squeeze(-1) * keep
            kl += per_kl.sum(1).tolist()
            nll += per_nll.sum(1).tolist()
            t_nll += per_tnll.sum(1).tolist()
            tokens += keep.sum(1).tolist()
    return {"kl": kl, "nll": nll, "teacher_nll": t_nll, "tokens": tokens}


def _draws(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(N_BOOT, n))


def summarize(scores: dict) -> dict:
    """Token-weighted KL and perplexity (student's and teacher's) with 95% bootstrap intervals over docs."""
    from bench.stats.resample import percentile_interval

    kl, nll, tnll, tok = (np.asarray(scores[k], dtype=float) for k in ("kl", "nll", "teacher_nll", "tokens"))
    idx = _draws(len(tok))
    tok_b = tok[idx].sum(1)
    kl_b, ppl_b = kl[idx].sum(1) / tok_b, np.exp(nll[idx].sum(1) / tok_b)
    return {"n_documents": int(len(tok)), "n_tokens": int(tok.sum()),
            "kl": float(kl.sum() / tok.sum()), "kl_ci": list(percentile_interval(kl_b)),
            "ppl": float(np.exp(nll.sum() / tok.sum())), "ppl_ci": list(percentile_interval(ppl_b)),
            "teacher_ppl": float(np.exp(tnll.sum() / tok.sum()))}


def measure(teacher, student, tokenizer, texts: dict[str, list[str]]) -> dict:
    """The proof record of one student: per held-out text, its per-document scores and their summary."""
    out = {}
    for name, docs in texts.items():
        scores = document_scores(teacher, student, tokenizer, docs)
        out[name] = {"documents_sha256": _fingerprint(docs), **summarize(scores), "per_document": scores}
    return out


def versus(kd: dict, control: dict) -> dict:
    """Paired KD − control differences per held-out text (same documents), and the verdict."""
    from bench.stats.resample import percentile_interval, recentred_p  # here: `show` reads records without them

    out, closer = {}, []
    for name, a in kd.items():
        b = control.get(name)
        if b is None or b.get("documents_sha256") != a.get("documents_sha256"):
            continue
        pa, pb = a["per_document"], b["per_document"]
        tok = np.asarray(pa["tokens"], dtype=float)
        idx = _draws(len(tok))
        tok_b = tok[idx].sum(1)
        d_kl = (np.asarray(pa["kl"])[idx].sum(1) - np.asarray(pb["kl"])[idx].sum(1)) / tok_b
        r_ppl = np.exp((np.asarray(pa["nll"])[idx].sum(1) - np.asarray(pb["nll"])[idx].sum(1)) / tok_b)
        obs = a["kl"] - b["kl"]
        lo, hi = percentile_interval(d_kl)
        out[name] = {"kd_kl": a["kl"], "control_kl": b["kl"], "kl_diff": obs, "kl_diff_ci": [lo, hi],
                     "kl_diff_p": recentred_p(d_kl, obs), "kd_ppl": a["ppl"], "control_ppl": b["ppl"],
                     "ppl_ratio": a["ppl"] / b["ppl"], "ppl_ratio_ci": list(percentile_interval(r_ppl))}
        closer.append(hi < 0)
    if not out:
        return {"texts": {}, "distilled": None,
                "verdict": "no comparison: the control was measured on other held-out text"}
    distilled = all(closer)
    verdict = ("distilled: closer to the teacher than its control (KL lower, 95% interval below 0, on every "
               "held-out text)" if distilled else
               "not a distilled model: not significantly closer to the teacher than its control on " +
               ", ".join(n for n, c in zip(out, closer, strict=True) if not c))
    return {"texts": out, "distilled": distilled, "verdict": verdict}


def read_provenance(folder: Path) -> dict | None:
    try:
        data = json.loads((Path(folder) / PROVENANCE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def find_control(record: dict, control: Path | None = None) -> tuple[Path, dict] | None:
    """The student's non-distilled control: the folder given, else the cached variant named by the control
    key the student recorded (same init, data, steps and seed, no teacher)."""
    from bench.paths import home

    candidates = [Path(control)] if control is not None else []
    key = record.get("control_key")
    if control is None and key:
        candidates.append(home() / "variants" / f"distill-{key}")
    for folder in candidates:
        data = read_provenance(folder)
        if data is not None and data.get("kind") == "nds" and data.get("proof"):
            return folder, data
    return None


def report(record: dict, control: Path | None = None) -> dict:
    """The proof of a student's provenance, compared with its control's where that control exists."""
    proof = record.get("proof") or {}
    out = {"kind": record.get("kind"), "held_out": {n: {k: v for k, v in r.items() if k != "per_document"}
                                                   for n, r in proof.items()}}
    if record.get("kind") != "distilled":
        return out
    found = find_control(record, control)
    if found is None:
        out["control"] = None
        out["verdict"] = ("no control to compare with: build it with the same command and --no-teacher "
                          "(or name it with --control)")
        return out
    folder, data = found
    v = versus(proof, data["proof"])
    out.update(control={"folder": str(folder), "key": data.get("key")}, versus=v["texts"],
               distilled=v["distilled"], verdict=v["verdict"])
    return out


def published(folder: Path) -> dict | None:
    """The proof a submission carries for a student folder here: `report` against its control where that is
    cached too, without the per-document scores or this machine's paths (the control by its key)."""
    record = read_provenance(folder)
    if not record or record.get("kind") not in ("distilled", "nds") or not record.get("proof"):
        return None
    rep = report(record)
    if rep.get("control"):
        rep["control"] = {"key": rep["control"].get("key")}
    return rep


def lines(rep: dict) -> list[str]:
    """The proof as printed by `qdbench distill`, `qdbench show` and `qdbench compare`."""
    out = []
    for name, r in rep.get("held_out", {}).items():
        out.append(f"held-out {name.replace('_', '-')} text ({r['n_documents']} docs, {r['n_tokens']} tokens): "
                   f"KL from teacher {r['kl']:.4f} [{r['kl_ci'][0]:.4f}, {r['kl_ci'][1]:.4f}], perplexity "
                   f"{r['ppl']:.2f} [{r['ppl_ci'][0]:.2f}, {r['ppl_ci'][1]:.2f}] (teacher {r['teacher_ppl']:.2f})")
    for name, v in (rep.get("versus") or {}).items():
        out.append(f"  vs control on {name.replace('_', '-')}: KL {v['kd_kl']:.4f} vs {v['control_kl']:.4f}, "
                   f"difference {v['kl_diff']:+.4f} [{v['kl_diff_ci'][0]:+.4f}, {v['kl_diff_ci'][1]:+.4f}] "
                   f"p={v['kl_diff_p']:.3g}; perplexity {v['kd_ppl']:.2f} vs {v['control_ppl']:.2f} (ratio "
                   f"{v['ppl_ratio']:.3f} [{v['ppl_ratio_ci'][0]:.3f}, {v['ppl_ratio_ci'][1]:.3f}])")
    if rep.get("verdict"):
        out.append(f"verdict: {rep['verdict']}")
    if rep.get("source"):
        out.append(f"({rep['source']})")
    return out
