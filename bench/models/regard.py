"""A regard classifier (Sheng et al. 2019), for BOLD's regard metric, from a local Hugging Face folder.

Regard is the social perception a text conveys of the person it is about: negative, neutral, positive (or
other). No regard model ships with a package, so it is used only where a user has one: `--regard-classifier
hf:PATH` names a sequence classifier (safetensors, no remote code) whose labels include `negative` and
`positive`; each text gets the label of highest probability.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from bench.errors import UserError
from bench.models.classifier import HFClassifier, load_classifier

NEEDED = ("negative", "positive")


@dataclass
class Regard:
    clf: HFClassifier
    labels: list[str]  # lower-cased, by class index
    id: str

    def label(self, texts: list[str]) -> list[str]:
        import torch

        if not texts:
            return []
        model, tok = self.clf.model, self.clf.tokenizer
        limit = int(getattr(model.config, "max_position_embeddings", 512) or 512)
        enc = tok(list(texts), return_tensors="pt", padding=True, truncation=True,
                  max_length=min(limit, 512)).to(self.clf.device)
        with torch.inference_mode():
            best = model(**enc).logits.float().argmax(dim=-1).cpu().tolist()
        return [self.labels[i] for i in best]


@functools.cache
def load_regard(spec: str) -> Regard:
    if not spec.startswith("hf:") or len(spec) == 3:
        raise UserError(f"--regard-classifier {spec}: expected hf:PATH, a local Hugging Face sequence classifier "
                        "of regard (labels negative, neutral, positive, other)")
    clf = load_classifier(spec, None, "negative")
    labels = [str(clf.model.config.id2label[i]).lower() for i in range(clf.model.config.num_labels)]
    missing = [name for name in NEEDED if name not in labels]
    if missing:
        raise UserError(f"--regard-classifier {spec}: labels are {', '.join(labels)}; expected negative and "
                        "positive among them")
    return Regard(clf, labels, "regard:" + clf.id.rsplit("#", 1)[0])
