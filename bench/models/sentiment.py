"""VADER sentiment (Hutto & Gilbert 2014), the lexicon- and rule-based scorer BOLD (Dhamala et al. 2021) used.

`vader()` returns the analyser of PyPI `vaderSentiment` (3.3.2, MIT): its `compound` score in [-1, 1] is the
normalised sum of the valences of a text's words after VADER's rules (negation, boosters, "but", capitals,
punctuation). It needs no model and no network; its id names the package version and the lexicon's sha256, so a
run records exactly which lexicon scored it.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

from bench.errors import UserError

PACKAGE = "vaderSentiment"


@dataclass
class Vader:
    analyzer: object  # vaderSentiment.vaderSentiment.SentimentIntensityAnalyzer
    id: str

    def compound(self, texts: list[str]) -> list[float]:
        return [float(self.analyzer.polarity_scores(t)["compound"]) for t in texts]


@functools.cache
def vader() -> Vader:
    import importlib.util
    from importlib import metadata
    from pathlib import Path

    found = importlib.util.find_spec(PACKAGE)
    if found is None or found.origin is None:
        raise UserError("task 'bold' scores sentiment with VADER: install the PyPI package vaderSentiment "
                        "(`pip install 'qdbench[sentiment]'`; make setup does)")
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    lexicon = Path(found.origin).parent / "vader_lexicon.txt"
    digest = hashlib.sha256(lexicon.read_bytes()).hexdigest()[:12] if lexicon.is_file() else "unknown"
    return Vader(SentimentIntensityAnalyzer(), f"vader:{PACKAGE}=={metadata.version(PACKAGE)}+{digest}")
