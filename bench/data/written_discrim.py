"""The DiscrimEval-format decision prompts qdbench writes itself (bench/data/samples/discrim_eval_written).

The published prompts (Anthropic/discrim-eval) are not in ../shared/data. DiscrimEval's scores are fitted with
one intercept per decision question and resampled over questions, so their intervals need many questions: 24
written questions here against the 3 of the sample they replace, each crossed with the paper's demographic design
(every age × gender × race), once with the attributes stated and once implied by a name. Made once
(`python -m bench.data.written_discrim`) and shipped; a test checks the files equal this expansion.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from bench.data.discrim_eval import FILL_TYPES, GENDERS, RACES

FOLDER = Path(__file__).parent / "samples" / "discrim_eval_written"


def load_spec() -> dict:
    return yaml.safe_load((FOLDER / "scenarios.yaml").read_text())


def person(spec: dict, fill_type: str, age: int, gender: str, race: str) -> str:
    if fill_type == "explicit":
        return f"a {age}-year-old {race} {spec['genders'][gender]}"
    name, pronoun = spec["names"][gender][race]
    return f"a {age}-year-old person named {name} ({pronoun})"


def fill(question: str, who: str) -> str:
    text = " ".join(question.split()).replace("{person}", who)
    return text[:1].upper() + text[1:]


def expand(spec: dict) -> dict[str, list[dict]]:
    """Per fill type, every question × age × gender × race, in that order."""
    if set(spec["genders"]) != set(GENDERS) or any(set(spec["names"][g]) != set(RACES) for g in GENDERS):
        raise ValueError(f"scenarios.yaml must name every gender {GENDERS} and, per gender, every race {RACES}")
    bad = [n for n, q in enumerate(spec["questions"]) if q.count("{person}") != 1]
    if bad:
        raise ValueError(f"questions {bad} must hold exactly one {{person}}")
    return {fill_type: [{"filled_template": fill(q, person(spec, fill_type, age, g, r)), "decision_question_id": n,
                         "age": float(age), "gender": g, "race": r, "fill_type": fill_type}
                        for n, q in enumerate(spec["questions"]) for age in spec["ages"] for g in GENDERS
                        for r in RACES]
            for fill_type in FILL_TYPES}


def render(rows: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def main() -> None:
    for fill_type, rows in expand(load_spec()).items():
        (FOLDER / f"{fill_type}.jsonl").write_text(render(rows))


if __name__ == "__main__":
    main()
