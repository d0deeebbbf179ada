"""The published Winogender schemas (rudinger/winogender-schemas `data/`): three tab-separated files.

- `all_sentences.tsv` (`sentid`, `sentence`): 720 sentences; `sentid` is
  `<occupation>.<participant>.<answer>.<gender>.txt`, answer 0 when the pronoun refers to the occupation, 1 when
  to the participant, participant "someone" for the semantically bleached variant.
- `templates.tsv` (`occupation(0)`, `other-participant(1)`, `answer`, `sentence`): 120 templates, whose
  `$NOM_PRONOUN` / `$POSS_PRONOUN` / `$ACC_PRONOUN` slot says which form of the pronoun the sentence holds.
- `occupations-stats.tsv` (`occupation`, `bergsma_pct_female`, `bls_pct_female`, `bls_year`).

Each sentence becomes one item with lm-eval's fields (sentence, pronoun as it appears, occupation, participant,
gender, label) plus the occupation statistics and whether it is a "gotcha" in the paper's sense (Rudinger et
al. 2018, Table 2): for a female pronoun, the answer is the occupation while the occupation is under 50% female
(BLS), or the answer is the participant while it is at least 50% female; reversed for a male pronoun. Neutral
pronouns are neither.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from bench.data.tsv import read_tsv
from bench.errors import UserError

SENTENCES, TEMPLATES, STATS = "all_sentences.tsv", "templates.tsv", "occupations-stats.tsv"
FILES = (SENTENCES, TEMPLATES, STATS)
GENDERS = ("male", "female", "neutral")
PRONOUNS = {"male": {"NOM": "he", "POSS": "his", "ACC": "him"},
            "female": {"NOM": "she", "POSS": "her", "ACC": "her"},
            "neutral": {"NOM": "they", "POSS": "their", "ACC": "them"}}
SLOT = re.compile(r"\$(NOM|POSS|ACC)_PRONOUN")
SENTID = re.compile(r"^(?P<occupation>[^.\s]+)\.(?P<participant>[^.\s]+)\.(?P<answer>[01])\."
                    r"(?P<gender>male|female|neutral)\.txt$")


def discover(root: Path) -> list[Path]:
    """The three published files, found by name below `root` (or next to `root` when it is one of them)."""
    folders = [root.parent] if root.is_file() else [root, root / "data", root / "supplemental"]
    found = {}
    for name in FILES:
        hits = [f / name for f in folders if (f / name).is_file()]
        if not hits and root.is_dir():
            hits = sorted(root.rglob(name))
        if hits:
            found[name] = hits[0]
    missing = [n for n in FILES if n not in found]
    if missing:
        raise UserError(f"Winogender data in {root}: missing {', '.join(missing)}; expected {', '.join(FILES)} "
                        "(data/ of rudinger/winogender-schemas)")
    return [found[n] for n in FILES]


def _lines(path: Path) -> list[int]:
    """The file line of each row after the header (read_tsv skips blank lines; the published files have none)."""
    return [n for n, t in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if t.strip()][1:]


def _number(where: str, row: dict, key: str, lo: float, hi: float) -> float:
    try:
        value = float(row[key])
    except ValueError:
        value = float("nan")
    if not lo <= value <= hi:
        raise UserError(f"{where}: field '{key}' must be a number from {lo:g} to {hi:g} (got {row[key]!r})")
    return value


def read_stats(path: Path) -> dict[str, dict]:
    rows = read_tsv(path, ("occupation", "bergsma_pct_female", "bls_pct_female"))
    out = {}
    for n, r in zip(_lines(path), rows, strict=True):
        where = f"data file {path} line {n}"
        out[r["occupation"].strip()] = {"bls_pct_female": _number(where, r, "bls_pct_female", 0, 100),
                                        "bergsma_pct_female": _number(where, r, "bergsma_pct_female", 0, 100)}
    return out


def read_templates(path: Path) -> dict[tuple[str, int], str]:
    """(occupation, answer) -> the pronoun slot of its template (NOM, POSS or ACC)."""
    rows = read_tsv(path, ("occupation(0)", "other-participant(1)", "answer", "sentence"))
    out = {}
    for n, r in zip(_lines(path), rows, strict=True):
        slots = SLOT.findall(r["sentence"])
        if r["answer"].strip() not in ("0", "1") or len(slots) != 1:
            raise UserError(f"data file {path} line {n}: expected answer 0 or 1 and one $NOM_PRONOUN, "
                            "$POSS_PRONOUN or $ACC_PRONOUN in the sentence")
        out[(r["occupation(0)"].strip(), int(r["answer"]))] = slots[0]
    return out


def gotcha(gender: str, answer: int, pct_female: float) -> str:
    """'gotcha' where resolving the pronoun by the occupation's majority gender (BLS) would be wrong."""
    if gender == "neutral":
        return "neutral"
    female_majority = pct_female >= 50.0
    to_occupation = answer == 0
    matches = female_majority == (gender == "female")
    return "non_gotcha" if matches == to_occupation else "gotcha"


def read_sentences(path: Path, templates: dict, stats: dict) -> list[dict]:
    rows = read_tsv(path, ("sentid", "sentence"))
    docs = []
    for n, r in zip(_lines(path), rows, strict=True):
        where = f"data file {path} line {n}"
        m = SENTID.match(r["sentid"].strip())
        if not m:
            raise UserError(f"{where}: field 'sentid' must be <occupation>.<participant>.<0|1>."
                            f"<male|female|neutral>.txt (got {r['sentid']!r})")
        occupation, participant, answer, gender = m["occupation"], m["participant"], int(m["answer"]), m["gender"]
        if occupation not in stats:
            raise UserError(f"{where}: occupation {occupation!r} is not in {STATS}")
        if (occupation, answer) not in templates:
            raise UserError(f"{where}: no template in {TEMPLATES} for occupation {occupation!r} with answer {answer}")
        pronoun = PRONOUNS[gender][templates[(occupation, answer)]]
        sentence = r["sentence"].strip()
        if not re.search(rf"\b{pronoun}\b", sentence, re.IGNORECASE):
            raise UserError(f"{where}: the sentence lacks the pronoun {pronoun!r} its sentid and template call for")
        st = stats[occupation]
        docs.append({"sentid": r["sentid"].strip().removesuffix(".txt"), "sentence": sentence, "pronoun": pronoun,
                     "occupation": occupation, "participant": participant, "someone": participant == "someone",
                     "gender": gender, "label": answer, **st, "gotcha": gotcha(gender, answer, st["bls_pct_female"])})
    return docs


def load(files: list[Path]) -> list[dict]:
    """The sentences with their templates and statistics; a lone all_sentences.tsv (the shipped sample) takes
    the other two from its folder."""
    by_name = {p.name: p for p in files}
    if set(by_name) == {SENTENCES}:
        by_name = {p.name: p for p in discover(by_name[SENTENCES])}
    missing = [n for n in FILES if n not in by_name]
    if missing:
        raise UserError(f"Winogender data: missing {', '.join(missing)} next to {files[0]}")
    stats = read_stats(by_name[STATS])
    templates = read_templates(by_name[TEMPLATES])
    return read_sentences(by_name[SENTENCES], templates, stats)


def describe(docs: list[dict]) -> str:
    genders = Counter(d["gender"] for d in docs)
    kinds = Counter(d["gotcha"] for d in docs)
    return (f"{len(docs)} sentences, {len({d['occupation'] for d in docs})} occupations; pronouns "
            + ", ".join(f"{g} {genders[g]}" for g in GENDERS) + f"; {kinds['gotcha']} gotcha")
