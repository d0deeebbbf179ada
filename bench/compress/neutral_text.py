"""Templated, neutral English the project writes itself (seeded): training text for tests and demos that is never
task data, and the held-out neutral text a student's proof of distillation is measured on."""

from __future__ import annotations

import random

_SUBJECTS = ["the old farmer", "a young painter", "the small dog", "my neighbour", "the baker", "a tired student",
             "the river boat", "our teacher", "the gardener", "a quiet cat", "the pilot", "the writer"]
_VERBS = ["carried", "painted", "found", "watched", "repaired", "opened", "described", "cleaned", "followed",
          "counted", "built", "visited"]
_OBJECTS = ["a wooden chair", "the green door", "three baskets of apples", "an old map", "the broken clock",
            "a letter", "the long bridge", "a bright lamp", "the stone wall", "a pile of books", "the red kite"]
_PLACES = ["near the harbour", "in the garden", "behind the market", "at the station", "on the hill",
           "by the lake", "in the village", "under the bridge", "inside the library", "across the field"]
_TIMES = ["in the morning", "after lunch", "before the storm", "on Sunday", "at dusk", "last winter",
          "during the festival", "every spring", "late at night", "at noon"]
_ENDINGS = ["and then went home.", "while it rained.", "and smiled.", "without a word.", "with great care.",
            "as the bells rang.", "and wrote it down.", "before anyone noticed."]


def synthetic_sentences(n_docs: int, seed: int = 0, sentences_per_doc: int = 4) -> list[str]:
    """`n_docs` short paragraphs of templated English sentences, identical for the same seed."""
    rng = random.Random(seed)
    docs = []
    for _ in range(n_docs):
        sents = []
        for _ in range(sentences_per_doc):
            s = (f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {rng.choice(_PLACES)} "
                 f"{rng.choice(_TIMES)} {rng.choice(_ENDINGS)}")
            sents.append(s[0].upper() + s[1:])
        docs.append(" ".join(sents))
    return docs
