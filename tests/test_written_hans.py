"""The HANS-format set qdbench writes itself: the shipped file is the templates' expansion, every pair is well
formed, every subcase of the paper is there, each heuristic's construction holds, and each gold label is what
the premise means (read off its parse by a small interpreter written here, independently of the templates)."""

from collections import Counter

import pytest

from bench.data import hans, written_hans
from bench.data.written_hans import parse


@pytest.fixture(scope="module")
def docs():
    return hans.load([written_hans.FOLDER / written_hans.FILE])


def test_shipped_file_is_the_expansion_of_the_templates():
    assert (written_hans.FOLDER / written_hans.FILE).read_text() == written_hans.render(written_hans.load_spec())


def test_every_subcase_of_the_paper_both_labels_and_size(docs):
    assert len(docs) == 3000 and len({d["pairID"] for d in docs}) == 3000
    assert len({(d["sentence1"], d["sentence2"]) for d in docs}) == 3000
    per = Counter((d["heuristic"], d["subcase"], d["gold_label"]) for d in docs)
    assert len(per) == 30 and set(per.values()) == {100}
    for h in hans.HEURISTICS:
        labels = Counter(g for (hh, _, g) in per if hh == h)
        assert labels == {"entailment": 5, "non-entailment": 5}
    assert {s for _, s, _ in per} == {s for subs in written_hans.SUBCASES.values() for s in subs}
    assert {"ln_subject/object_swap", "le_around_prepositional_phrase", "sn_NP/Z", "cn_embedded_under_if",
            "ce_after_since_clause"} <= {s for _, s, _ in per}


def test_task_runs_on_it_without_imported_data(tmp_path, monkeypatch):
    from bench.data import store
    from bench.tasks.registry import get_task

    monkeypatch.setenv("QDBENCH_HOME", str(tmp_path))
    data = store.load(get_task("hans").spec)
    assert data.origin == "sample" and len(data.docs) == 3000
    assert data.path.endswith("hans_written/heuristics_evaluation_set.txt")


def _words(s: str) -> list[str]:
    return s.lower().split()


def _body(s: str) -> list[str]:
    w = _words(s)
    return w[:-1] if w[-1] == "." else w


def _contiguous(small: list[str], big: list[str]) -> bool:
    return any(big[i:i + len(small)] == small for i in range(len(big) - len(small) + 1))


def _subtrees(t):
    yield t
    if not written_hans.is_preterminal(t):
        for c in t[1:]:
            yield from _subtrees(c)


def _clause_constituent(hyp: list[str], tree) -> bool:
    return any(t[0] == "S" and [w.lower() for w in written_hans.leaves(t)] == hyp for t in _subtrees(tree))


def test_parses_and_sentences_agree(docs):
    rows = {r["pairID"]: r for r in written_hans.expand(written_hans.load_spec())}
    for d in docs:
        r = rows[d["pairID"]]
        for n in ("1", "2"):
            tree = parse(r[f"sentence{n}_parse"])
            assert tree[0] == "ROOT" and written_hans.sentence(tree) == r[f"sentence{n}"]
            assert [w for w in r[f"sentence{n}_binary_parse"].split() if w not in "()"] == r[f"sentence{n}"].split()
            assert r[f"sentence{n}"][0].isupper() and r[f"sentence{n}"].endswith(" .")
    first = rows["ex0"]
    assert first["sentence1_binary_parse"].startswith("( ( The ") and first["sentence1_parse"].startswith("(ROOT (S")


def test_each_heuristic_construction_holds_and_they_nest(docs):
    """Lexical overlap: all hypothesis words are in the premise; subsequence: a contiguous stretch of it;
    constituent: a whole clause of its parse. Each heuristic's items are not instances of the next narrower one,
    so the three accuracies diagnose different heuristics (as in the paper)."""
    rows = {r["pairID"]: r for r in written_hans.expand(written_hans.load_spec())}
    for d in docs:
        p, h = _words(d["sentence1"]), _body(d["sentence2"])
        tree = parse(rows[d["pairID"]]["sentence1_parse"])
        assert set(h) <= set(p)
        sub, const = _contiguous(h, _body(d["sentence1"])), _clause_constituent(h, tree)
        if d["heuristic"] == "lexical_overlap":
            assert not sub, d
        elif d["heuristic"] == "subsequence":
            assert sub and not const, d
        else:
            assert sub and const, d
        assert d["gold_label"] == written_hans.label(d["subcase"])
        assert d["heuristic"] == written_hans.heuristic(d["subcase"])


# -- an interpreter of the premise's parse: the propositions it asserts ---------------------------------------
# (subject, verb, object, place) per event; a transitive event also asserts its object-less form ("ate the soup"
# -> "ate"); clauses under if/unless, non-factive verbs, non-factive adverbs and "or" are not asserted.
FACTIVE_SUBORDINATORS = {"since", "because", "although", "though", "while", "after", "when"}
FACTIVE_VERBS = {"knew", "learned", "remembered", "forgot", "realized", "discovered"}
FACTIVE_ADVERBS = {"certainly", "definitely", "clearly", "obviously", "undoubtedly"}


def _kids(t):
    return t[1:]


def _np(t) -> tuple[list[str], set]:
    """Head nouns of a noun phrase and the events its modifiers assert."""
    kids = _kids(t)
    labels = [k[0] for k in kids]
    if labels in (["DT", "NN"], ["DT", "NNS"]):
        return [kids[1][1].lower()], set()
    if labels in (["JJ", "NNS"], ["NNS"]):
        return [kids[-1][1].lower()], set()
    if labels == ["NP", "CC", "NP"]:
        (a, ea), (b, eb) = _np(kids[0]), _np(kids[2])
        return a + b, ea | eb
    heads, events = _np(kids[0])
    mod = kids[1]
    if mod[0] == "PP":
        return heads, events | _np(mod[2])[1]
    if mod[0] == "VP":  # reduced relative: the head is the object of a participle
        verb, place = mod[1][1], _np(mod[2][2])[0][0]
        return heads, events | {(None, verb, h, place) for h in heads} | {(None, verb, None, place)}
    if mod[0] == "SBAR":
        s = mod[2]
        if s[1][0] == "NP":  # object gap: "who the pilot greeted"
            subj, ev = _np(s[1])
            return heads, events | ev | _events(subj, s[2], gap=heads)
        return heads, events | _events(heads, s[1])  # subject gap
    raise AssertionError(f"unexpected NP {t}")


def _events(subjects: list[str], vp, gap: list[str] | None = None) -> set:
    kids = _kids(vp)
    verb = kids[0][1].lower()
    if verb in ("was", "were"):  # passive: "was greeted by the pilot"
        agents, ev = _np(kids[1][2][2])
        return ev | _with_drop({(a, kids[1][1][1], s, None) for a in agents for s in subjects})
    if len(kids) == 1:
        objects = gap or [None]
        return _with_drop({(s, verb, o, None) for s in subjects for o in objects})
    arg = kids[1]
    if arg[0] == "NP":
        objects, ev = _np(arg)
        return ev | _with_drop({(s, verb, o, None) for s in subjects for o in objects})
    if arg[0] == "PP":
        return {(s, verb, None, _np(arg[2])[0][0]) for s in subjects}
    if arg[0] == "SBAR":  # a clause as object: asserted only under a factive verb with "that"
        return _clause(arg[-1]) if len(arg) == 3 and verb in FACTIVE_VERBS else set()
    raise AssertionError(f"unexpected VP {vp}")


def _with_drop(events: set) -> set:
    return events | {(s, v, None, p) for s, v, _, p in events}


def _clause(s) -> set:
    kids = [k for k in _kids(s) if k[0] not in (".", ",")]
    labels = [k[0] for k in kids]
    if labels == ["NP", "VP"]:
        heads, ev = _np(kids[0])
        return ev | _events(heads, kids[1])
    if labels == ["SBAR", "S"]:  # "Since P, Q" / "If P, Q"
        if kids[0][1][1].lower() in ("if", "unless"):
            return set()
        return _clause(kids[0][2]) | _clause(kids[1])
    if labels == ["SBAR", "NP", "VP"]:  # NP/Z: "While the nurse hid the pilot waited"
        sub = _clause(kids[0][2]) if kids[0][1][1].lower() in FACTIVE_SUBORDINATORS else set()
        heads, ev = _np(kids[1])
        return sub | ev | _events(heads, kids[2])
    if labels == ["S", "CC", "S"]:
        return _clause(kids[0]) | _clause(kids[2]) if kids[1][1] == "and" else set()
    if labels == ["ADVP", "S"]:
        return _clause(kids[1]) if kids[0][1][1].lower() in FACTIVE_ADVERBS else set()
    raise AssertionError(f"unexpected clause {s}")


def entails(premise_parse: str, hypothesis_parse: str) -> bool:
    facts = _clause(parse(premise_parse)[1])
    claim = _clause(parse(hypothesis_parse)[1])
    assert len({e[:2] for e in claim}) == 1, hypothesis_parse  # a hypothesis states one thing
    return claim <= facts


def test_the_interpreter_on_hand_written_pairs():
    def tree(s):
        return f"(ROOT {s})"
    swap = ("(S (NP (DT the) (NN nurse)) (VP (VBD greeted) (NP (DT the) (NN pilot))) (. .))",
            "(S (NP (DT the) (NN pilot)) (VP (VBD greeted) (NP (DT the) (NN nurse))) (. .))")
    assert entails(tree(swap[0]), tree(swap[0])) and not entails(tree(swap[0]), tree(swap[1]))
    iffy = "(S (SBAR (IN if) (S (NP (DT the) (NN nurse)) (VP (VBD slept)))) (, ,) (S (NP (DT the) (NN pilot)) " \
           "(VP (VBD waited))) (. .))"
    since = iffy.replace("(IN if)", "(IN since)")
    slept = "(S (NP (DT the) (NN nurse)) (VP (VBD slept)) (. .))"
    assert not entails(tree(iffy), tree(slept)) and entails(tree(since), tree(slept))


def test_every_gold_label_is_what_the_premise_means(docs):
    rows = {r["pairID"]: r for r in written_hans.expand(written_hans.load_spec())}
    wrong = [d["pairID"] for d in docs if entails(rows[d["pairID"]]["sentence1_parse"],
                                                  rows[d["pairID"]]["sentence2_parse"])
             != (d["gold_label"] == "entailment")]
    assert not wrong, [(rows[i]["sentence1"], rows[i]["sentence2"], rows[i]["gold_label"]) for i in wrong[:5]]


def test_templates_are_checked():
    with pytest.raises(ValueError, match="unbalanced"):
        parse("(S (NP (DT the) $N1)")
    spec = written_hans.load_spec()
    bad = {**spec, "templates": [t for t in spec["templates"] if t["subcase"] != "cn_adverb"]}
    with pytest.raises(ValueError, match="cn_adverb"):
        written_hans.expand(bad, per_subcase=1)
    filler = written_hans.Filler(spec["vocabulary"], __import__("random").Random(0))
    assert filler.tree(parse("(S @N1 (VP $N1.be (VP $V1.vbn)))"))[2][1][0] == "VBD"
    with pytest.raises(ValueError, match="exhausted"):
        written_hans.Filler({"P": {"tag": "IN", "words": ["near"]}}, __import__("random").Random(0)).tree(
            parse("(PP $P1 $P2)"))
