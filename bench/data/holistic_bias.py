"""HolisticBias v1.1 (facebookresearch/ResponsibleNLP `holistic_bias/dataset/v1.1/`): the published building
blocks, and the seeded subset of sentences qdbench builds from them.

Published: `descriptors.json` {axis: {bucket: [descriptor | {"descriptor", "preference"?, "gender"?,
"article"?}]}}, `nouns.json` {noun_gender: [[singular, plural], ...]} and `sentence_templates.json`
{template: {options}}, each template holding `{noun_phrase}` or `{plural_noun_phrase}`. The full data set
(450k+ sentences) is their product with stylistic variants, built by the authors' code; qdbench builds a
subset sized for a CPU, deterministically from the files and SEED:

- every descriptor of every axis (the data set's point is its breadth: 583 descriptors in 13 axes in v1.1);
- TEMPLATES_PER_KIND templates of each kind (singular `{noun_phrase}`, plural `{plural_noun_phrase}`), drawn
  with SEED: 4 of the 26;
- per template, NOUNS_PER_GENDER nouns of each noun gender (female, male, neutral: 6 nouns), drawn with SEED,
  the same for every descriptor; a gendered descriptor ("Latina") takes 6 nouns of its own gender instead, as the
  authors' code pairs it only with those;
- noun phrases "{article} {descriptor} {noun}" and "{descriptor} {plural noun}" (the authors' descriptor_noun
  type; the noun-less phrases, the standalone noun phrases and the stylistic variants are left out).

That is 583 × 4 × 6 = 13,992 sentences, about 11 minutes for SmolLM2-135M on two busy CPU cores (21
sentences/s measured), and 6 sentences per descriptor and template for the Mann-Whitney tests of the
likelihood bias (bench/metrics/holistic_bias.py). Each doc is one sentence.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from bench.data.jsontext import fail, read_json
from bench.errors import UserError

FILES = ("descriptors.json", "nouns.json", "sentence_templates.json")
VERSION = "v1.1"
SEED = 20220518  # the HolisticBias paper's arXiv date; any fixed number would do
TEMPLATES_PER_KIND = 2
NOUNS_PER_GENDER = 2
KINDS = {"singular": "{noun_phrase}", "plural": "{plural_noun_phrase}"}
DESCRIPTOR_KEYS = ("descriptor", "preference", "gender", "article")


def discover(root: Path) -> list[Path]:
    """The three building-block files: in `root/dataset/v1.1` (the published layout), `root/supplemental` (an
    imported copy) or `root`."""
    for folder in (root / "dataset" / VERSION, root / "supplemental", root):
        if folder.is_dir() and all((folder / f).is_file() for f in FILES):
            return [folder / f for f in FILES]
    raise UserError(f"no HolisticBias {VERSION} files found in {root}: expected dataset/{VERSION}/"
                    f"{{{','.join(FILES)}}} (the published layout) or those three files in the folder")


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def read_descriptors(path: Path) -> list[dict]:
    doc, text = read_json(path)
    if not isinstance(doc, dict) or not doc:
        raise fail(path, text, [], "expected an object of axes, {axis: {bucket: [descriptor, ...]}}")
    out, seen = [], set()
    for axis, buckets in doc.items():
        if not isinstance(buckets, dict) or not buckets:
            raise fail(path, text, [axis], "expected a non-empty object of buckets, {bucket: [descriptor, ...]}")
        for bucket, entries in buckets.items():
            if not isinstance(entries, list) or not entries:
                raise fail(path, text, [axis, bucket], "expected a non-empty list of descriptors")
            for i, entry in enumerate(entries):
                obj = {"descriptor": entry} if isinstance(entry, str) else entry
                keys = [axis, bucket, entry if isinstance(entry, str) else i]
                if not isinstance(obj, dict) or not isinstance(obj.get("descriptor"), str) \
                        or not obj["descriptor"].strip():
                    raise fail(path, text, keys, "expected a descriptor string or an object with a 'descriptor' "
                                                 "string")
                bad = [k for k in DESCRIPTOR_KEYS if k in obj and not isinstance(obj[k], str)]
                if bad:
                    raise fail(path, text, [axis, bucket, obj["descriptor"]], f"field '{bad[0]}' must be a string")
                if (axis, obj["descriptor"]) in seen:
                    raise fail(path, text, [axis, bucket, obj["descriptor"]],
                               f"descriptor listed twice in axis '{axis}'")
                seen.add((axis, obj["descriptor"]))
                out.append({"axis": axis, "bucket": bucket, "descriptor": obj["descriptor"],
                            "preference": obj.get("preference", "no_data"), "gender": obj.get("gender"),
                            "article": obj.get("article", _article(obj["descriptor"]))})
    return out


def read_nouns(path: Path) -> dict[str, list[tuple[str, str]]]:
    doc, text = read_json(path)
    if not isinstance(doc, dict) or not doc:
        raise fail(path, text, [], "expected an object of noun genders, {gender: [[singular, plural], ...]}")
    out = {}
    for gender, pairs in doc.items():
        if not isinstance(pairs, list) or not pairs:
            raise fail(path, text, [gender], "expected a non-empty list of [singular, plural] nouns")
        for i, pair in enumerate(pairs):
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(w, str) and w.strip()
                                                                      for w in pair)):
                first = pair[0] if isinstance(pair, list) and pair and isinstance(pair[0], str) else i
                raise fail(path, text, [gender, first], "expected a [singular, plural] pair of nouns")
        out[gender] = [tuple(p) for p in pairs]
    return out


def read_templates(path: Path) -> list[tuple[str, str]]:
    """(template, kind) in the published order."""
    doc, text = read_json(path)
    if not isinstance(doc, dict) or not doc:
        raise fail(path, text, [], "expected an object of sentence templates, {template: {options}}")
    out = []
    for template, options in doc.items():
        kinds = [k for k, slot in KINDS.items() if slot in template]
        if len(kinds) != 1 or not isinstance(options, dict):
            raise fail(path, text, [template], "expected a template holding exactly one of {noun_phrase} or "
                                               "{plural_noun_phrase}, mapped to an object of options")
        out.append((template, kinds[0]))
    return out


def choose_templates(templates: list[tuple[str, str]]) -> list[tuple[int, str, str]]:
    """(published index, template, kind): TEMPLATES_PER_KIND of each kind, drawn with SEED."""
    rng = random.Random(SEED)
    chosen = []
    for kind in KINDS:
        pool = [(i, t, k) for i, (t, k) in enumerate(templates) if k == kind]
        chosen += rng.sample(pool, min(TEMPLATES_PER_KIND, len(pool)))
    return sorted(chosen)


def choose_nouns(nouns: dict[str, list[tuple[str, str]]], template_index: int) -> dict[str | None, list]:
    """Per template: the nouns of ungendered descriptors (NOUNS_PER_GENDER of each noun gender) and, per noun
    gender, those of a descriptor of that gender (as many, all of its own gender where it has enough)."""
    rng = random.Random(f"{SEED}/{template_index}")
    mixed = [(g, n) for g in sorted(nouns) for n in rng.sample(nouns[g], min(NOUNS_PER_GENDER, len(nouns[g])))]
    size = NOUNS_PER_GENDER * len(nouns)
    own = {g: [(g, n) for n in rng.sample(nouns[g], min(size, len(nouns[g])))] for g in sorted(nouns)}
    return {None: mixed, **own}


def sentence(template: str, kind: str, d: dict, noun: tuple[str, str]) -> str:
    if kind == "plural":
        return template.replace(KINDS["plural"], f"{d['descriptor']} {noun[1]}")
    return template.replace(KINDS["singular"], f"{d['article']} {d['descriptor']} {noun[0]}")


def load(files: list[Path]) -> list[dict]:
    by_name = {p.name: p for p in files}
    missing = [f for f in FILES if f not in by_name]
    if missing:
        raise UserError(f"HolisticBias data: {', '.join(missing)} missing; expected {', '.join(FILES)}")
    descriptors = read_descriptors(by_name["descriptors.json"])
    nouns = read_nouns(by_name["nouns.json"])
    templates = read_templates(by_name["sentence_templates.json"])
    for d in descriptors:
        if d["gender"] is not None and d["gender"] not in nouns:
            path = by_name["descriptors.json"]
            raise fail(path, path.read_text(encoding="utf-8"), [d["axis"], d["bucket"], d["descriptor"]],
                       f"gender '{d['gender']}' is not a noun gender of nouns.json ({', '.join(nouns)})")
    docs = []
    for index, template, kind in choose_templates(templates):
        chosen = choose_nouns(nouns, index)
        for d in descriptors:
            for noun_gender, noun in chosen[d["gender"]]:
                docs.append({
                    "axis": d["axis"], "bucket": d["bucket"], "descriptor": d["descriptor"],
                    "descriptor_id": f"{d['axis']}/{d['descriptor']}", "preference": d["preference"],
                    "template": template, "template_key": f"t{index:02d}", "kind": kind,
                    "noun": noun[1] if kind == "plural" else noun[0], "noun_gender": noun_gender,
                    "sentence": sentence(template, kind, d, noun)})
    return docs


def describe(docs: list[dict]) -> str:
    axes = Counter(d["axis"] for d in docs)
    n_desc = len({d["descriptor_id"] for d in docs})
    n_templates = len({d["template_key"] for d in docs})
    return (f"{len(docs)} sentences: {n_desc} descriptors in {len(axes)} axes × {n_templates} templates × their "
            f"nouns (HolisticBias {VERSION} building blocks, seeded subset)")
