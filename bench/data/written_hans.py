"""The HANS-format evaluation set qdbench writes itself (bench/data/samples/hans_written), built the way HANS
builds its own (McCoy, Pavlick & Linzen 2019, section 3): sentence templates per subcase, filled from a
vocabulary, each premise paired with a hypothesis that the heuristic would call entailed.

The templates are trees (templates.yaml), so every pair comes with the published columns derived from one source:
the sentences (tokens joined by spaces, as published: "The nurse greeted the pilot ."), the labelled parse
("(ROOT (S (NP (DT The) (NN nurse)) ...))") and the unlabelled binary parse (right-branching, unary nodes
collapsed: "( ( The nurse ) ( ( greeted ( the pilot ) ) . ) )"). PER_SUBCASE pairs of each of the paper's 30
subcases, spread evenly over the subcase's templates, drawn with a fixed seed and never repeated. The file is
made once (`python -m bench.data.written_hans`) and shipped; a test checks it equals this expansion.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import yaml

FOLDER = Path(__file__).parent / "samples" / "hans_written"
FILE = "heuristics_evaluation_set.txt"
SEED = 20261205
PER_SUBCASE = 100
COLUMNS = ("gold_label", "sentence1_binary_parse", "sentence2_binary_parse", "sentence1_parse", "sentence2_parse",
           "sentence1", "sentence2", "pairID", "heuristic", "subcase", "template")
# The paper's subcases (its Table A1 and the published file), five non-entailed then five entailed per heuristic.
SUBCASES = {
    "lexical_overlap": ("ln_subject/object_swap", "ln_preposition", "ln_relative_clause", "ln_passive",
                        "ln_conjunction", "le_relative_clause", "le_around_prepositional_phrase",
                        "le_around_relative_clause", "le_conjunction", "le_passive"),
    "subsequence": ("sn_NP/S", "sn_PP_on_subject", "sn_relative_clause_on_subject", "sn_past_participle", "sn_NP/Z",
                    "se_conjunction", "se_adjective", "se_understood_object", "se_relative_clause_on_obj",
                    "se_PP_on_obj"),
    "constituent": ("cn_embedded_under_if", "cn_after_if_clause", "cn_embedded_under_verb", "cn_disjunction",
                    "cn_adverb", "ce_embedded_under_since", "ce_after_since_clause", "ce_embedded_under_verb",
                    "ce_conjunction", "ce_adverb"),
}
HEURISTIC_OF = {"l": "lexical_overlap", "s": "subsequence", "c": "constituent"}
SLOT = re.compile(r"^([$@])([A-Z][A-Za-z]*?)(\d+)(?:\.(\w+))?$")

Tree = list  # [label, child, ...] with trees as children, or [tag, word] (a preterminal)


def heuristic(subcase: str) -> str:
    return HEURISTIC_OF[subcase[0]]


def label(subcase: str) -> str:
    """The gold label follows the subcase's construction: `?n_` non-entailment, `?e_` entailment."""
    return "entailment" if subcase[1] == "e" else "non-entailment"


def parse(text: str) -> Tree:
    """A bracketed tree; atoms starting with $ or @ are slots, other atoms are words of a preterminal."""
    tokens = re.findall(r"\(|\)|[^\s()]+", text)
    pos = 0

    def node() -> Tree:
        nonlocal pos
        if tokens[pos] != "(":
            raise ValueError(f"expected '(' at token {pos} of {text!r}")
        out = [tokens[pos + 1]]
        pos += 2
        while tokens[pos] != ")":
            if tokens[pos] == "(":
                out.append(node())
            else:
                out.append(tokens[pos])
                pos += 1
        pos += 1
        return out

    try:
        tree = node()
    except IndexError:
        raise ValueError(f"unbalanced brackets in {text!r}") from None
    if pos != len(tokens):
        raise ValueError(f"text after the tree in {text!r}")
    return tree


def is_preterminal(t: Tree) -> bool:
    return len(t) == 2 and isinstance(t[1], str) and not SLOT.match(t[1])


def leaves(t: Tree) -> list[str]:
    return [t[1]] if is_preterminal(t) else [w for c in t[1:] for w in leaves(c)]


def bracketed(t: Tree) -> str:
    if is_preterminal(t):
        return f"({t[0]} {t[1]})"
    return f"({t[0]} " + " ".join(bracketed(c) for c in t[1:]) + ")"


def binary(t: Tree) -> str:
    """Unlabelled, unary nodes collapsed, right-branching: (A B C) -> ( A ( B C ) )."""
    if is_preterminal(t):
        return t[1]
    parts = [binary(c) for c in t[1:]]
    while len(parts) > 1:
        parts[-2:] = [f"( {parts[-2]} {parts[-1]} )"]
    return parts[0]


def capitalized(t: Tree) -> Tree:
    """A copy with the first word capitalized."""
    if is_preterminal(t):
        return [t[0], t[1][:1].upper() + t[1][1:]]
    return [t[0], capitalized(t[1]), *t[2:]]


def sentence(t: Tree) -> str:
    return " ".join(leaves(t))


class Filler:
    """Draws the words of one pair: each slot once, no word twice across different slots."""

    def __init__(self, vocabulary: dict, rng: random.Random):
        self.vocab, self.rng = vocabulary, rng
        self.values: dict[str, object] = {}
        self.used: set[str] = set()

    def _free(self, words: list) -> list:
        free = [w for w in words if not ({w} if isinstance(w, str) else set(w)) & self.used]
        if not free:
            raise ValueError(f"vocabulary exhausted: every one of {words} is already used in this pair")
        return free

    def _noun(self, number: str | None) -> Tree:
        pair = self.rng.choice(self._free(self.vocab["N"]))
        self.used.update(pair)
        number = number or self.rng.choice(("sg", "pl"))
        return ["NN", pair[0]] if number == "sg" else ["NNS", pair[1]]

    def _word(self, cls: str) -> tuple[str, str]:
        spec = self.vocab[cls]
        words = list(spec["objects"]) if "objects" in spec else spec["words"]
        choice = self.rng.choice(self._free([w.split("/")[0] for w in words]))
        self.used.add(choice)
        tagged = next(w for w in words if w.split("/")[0] == choice)
        return choice, tagged.split("/")[1] if "/" in tagged else spec["tag"]

    def _fill(self, cls: str, key: str):
        if cls in ("N", "Nsg", "Npl"):
            return self._noun({"N": None, "Nsg": "sg", "Npl": "pl"}[cls])
        if cls == "VP":
            if self.rng.random() < 0.5:
                word, tag = self._word("I")
                return ["VP", [tag, word]]
            word, tag = self._word("V")
            return ["VP", [tag, word], ["NP", ["DT", "the"], self._noun(None)]]
        if cls not in self.vocab:
            raise ValueError(f"slot {key}: no vocabulary class {cls!r}")
        word, tag = self._word(cls)
        if "objects" in self.vocab[cls]:
            obj = self.rng.choice(self._free(self.vocab[cls]["objects"][word]))
            self.used.add(obj)
            return [tag, word], obj
        return [tag, word]

    def expand(self, atom: str) -> Tree:
        m = SLOT.match(atom)
        if not m:
            raise ValueError(f"{atom!r} is not a slot")
        sigil, cls, index, attr = m.groups()
        key = f"{cls}{index}"
        if key not in self.values:
            self.values[key] = self._fill(cls, key)
        value = self.values[key]
        if "objects" in self.vocab.get(cls, {}):
            head, obj = value
            value = ["NN", obj] if attr == "obj" else head
        elif attr == "be":
            value = ["VBD", "was" if value[0] == "NN" else "were"]
        elif attr == "vbn":
            value = ["VBN", value[1]]
        elif attr is not None:
            raise ValueError(f"slot {atom}: unknown attribute {attr!r}")
        value = [list(x) if isinstance(x, list) else x for x in value]
        return ["NP", ["DT", "the"], value] if sigil == "@" else value

    def tree(self, template: Tree) -> Tree:
        if is_preterminal(template):
            return list(template)
        out = [template[0]]
        for child in template[1:]:
            out.append(self.expand(child) if isinstance(child, str) else self.tree(child))
        return out


def templates(spec: dict) -> list[dict]:
    """One entry per (premise, hypothesis), numbered temp1, temp2, ... in file order."""
    out = []
    for t in spec["templates"]:
        for hyp in t["hypotheses"]:
            out.append({"template": f"temp{len(out) + 1}", "subcase": t["subcase"], "premise": parse(t["premise"]),
                        "hypothesis": parse(hyp)})
    return out


def row(pair_id: str, entry: dict, premise: Tree, hypothesis: Tree) -> dict:
    p, h = capitalized(premise), capitalized(hypothesis)
    return {"gold_label": label(entry["subcase"]), "sentence1_binary_parse": binary(p),
            "sentence2_binary_parse": binary(h), "sentence1_parse": f"(ROOT {bracketed(p)})",
            "sentence2_parse": f"(ROOT {bracketed(h)})", "sentence1": sentence(p), "sentence2": sentence(h),
            "pairID": pair_id, "heuristic": heuristic(entry["subcase"]), "subcase": entry["subcase"],
            "template": entry["template"]}


def expand(spec: dict, per_subcase: int = PER_SUBCASE, seed: int = SEED) -> list[dict]:
    """Every pair in the published column layout, subcase by subcase in the paper's order."""
    rng = random.Random(seed)
    entries = templates(spec)
    out, seen = [], set()
    for subcases in SUBCASES.values():
        for subcase in subcases:
            own = [e for e in entries if e["subcase"] == subcase]
            if not own:
                raise ValueError(f"no template for subcase {subcase}")
            for i in range(per_subcase):
                entry = own[i % len(own)]
                for _ in range(1000):
                    filler = Filler(spec["vocabulary"], rng)
                    premise, hyp = filler.tree(entry["premise"]), filler.tree(entry["hypothesis"])
                    if (sentence(premise), sentence(hyp)) not in seen:
                        break
                else:
                    raise ValueError(f"{entry['template']} ({subcase}): cannot draw {per_subcase} distinct pairs")
                seen.add((sentence(premise), sentence(hyp)))
                out.append(row(f"ex{len(out)}", entry, premise, hyp))
    return out


def render(spec: dict) -> str:
    """The TSV text of heuristics_evaluation_set.txt."""
    lines = ["\t".join(COLUMNS)] + ["\t".join(r[c] for c in COLUMNS) for r in expand(spec)]
    return "\n".join(lines) + "\n"


def load_spec(folder: Path = FOLDER) -> dict:
    return yaml.safe_load((folder / "templates.yaml").read_text())


def main() -> None:
    text = render(load_spec())
    (FOLDER / FILE).write_text(text)
    print(f"wrote {FOLDER / FILE}: {text.count(chr(10)) - 1} pairs")


if __name__ == "__main__":
    main()
