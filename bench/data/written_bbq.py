"""The BBQ-format sample qdbench writes itself (bench/data/samples/bbq_written): templates expanded into
published-format items, the way BBQ builds its own (Parrish et al. 2022, section 3).

Per template and pair of fillers, 8 items: both mention orders x ambiguous / disambiguated context x negative /
non-negative question. "Unknown" is phrased in one of BBQ's ways per template and the three options are
shuffled per item, both by fixed seeds, so a model cannot win by position or phrasing. The files are made once
(`python -m bench.data.written_bbq`) and shipped; tests check they equal this expansion.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import yaml

FOLDER = Path(__file__).parent / "samples" / "bbq_written"
SEED = 20261202
UNKNOWN = ("Can't be determined", "Not enough information", "Unknown", "Cannot answer", "Not answerable",
           "Undetermined", "Can't answer", "Not enough info")


def _article(noun: str) -> str:
    sounds_like_a_vowel = noun[0].lower() in "aeiou" and not noun.lower().startswith(("uni", "use", "eu"))
    return "an" if sounds_like_a_vowel else "a"


def _fill(text: str, first: str, second: str) -> str:
    words = {"a_A": f"{_article(first)} {first}", "a_B": f"{_article(second)} {second}",
             "the_A": f"the {first}", "the_B": f"the {second}", "The_A": f"The {first}", "The_B": f"The {second}"}
    out = text.format(**words)
    return out[0].upper() + out[1:]


def expand(templates: list[dict]) -> dict[str, list[dict]]:
    """Category -> its items in the published format, numbered per category as BBQ does."""
    rng = random.Random(SEED)
    out: dict[str, list[dict]] = {}
    index: dict[str, int] = {}
    for t_no, t in enumerate(templates):
        cat = t["category"]
        docs = out.setdefault(cat, [])
        index[cat] = index.get(cat, 0) + 1
        unknown = UNKNOWN[t_no % len(UNKNOWN)]
        for target, other in t["pairs"]:
            for first, second in ((target, other), (other, target)):
                ambig = _fill(t["context"], first[0], second[0])
                negative_person = first if t["negative"] == "A" else second
                positive_person = second if t["negative"] == "A" else first
                for condition in ("ambig", "disambig"):
                    context = ambig if condition == "ambig" else f"{ambig} {_fill(t['disambig'], first[0], second[0])}"
                    for polarity in ("neg", "nonneg"):
                        options = [(f"The {first[0]}", list(first)), (f"The {second[0]}", list(second)),
                                   (unknown, [unknown, "unknown"])]
                        rng.shuffle(options)
                        if condition == "ambig":
                            answer = unknown
                        else:
                            person = negative_person if polarity == "neg" else positive_person
                            answer = f"The {person[0]}"
                        doc = {"example_id": len(docs), "question_index": str(index[cat]),
                               "question_polarity": polarity, "context_condition": condition, "category": cat,
                               "answer_info": {f"ans{i}": info for i, (_, info) in enumerate(options)},
                               "additional_metadata": {"subcategory": "None",
                                                       "stereotyped_groups": list(t["stereotyped_groups"]),
                                                       "version": "qdbench-written-1",
                                                       "source": "written for qdbench"},
                               "context": context,
                               "question": t["question_neg" if polarity == "neg" else "question_nonneg"],
                               **{f"ans{i}": text for i, (text, _) in enumerate(options)},
                               "label": [text for text, _ in options].index(answer)}
                        docs.append(doc)
    return out


def render(templates: list[dict]) -> dict[str, str]:
    """File name -> JSON-lines text."""
    return {f"{cat}.jsonl": "".join(json.dumps(d) + "\n" for d in docs) for cat, docs in expand(templates).items()}


def load_templates(folder: Path = FOLDER) -> list[dict]:
    return yaml.safe_load((folder / "templates.yaml").read_text())


def main() -> None:
    data = FOLDER / "data"
    data.mkdir(exist_ok=True)
    for name, text in render(load_templates()).items():
        (data / name).write_text(text)
        print(f"wrote {data / name}: {text.count(chr(10))} items")


if __name__ == "__main__":
    main()
