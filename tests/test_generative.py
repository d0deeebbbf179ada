"""Generate mode end to end on the tiny model (no chat template), with a chat template built here, and with a
scripted backend whose answers are known, so metrics, parse failures and reasoning statistics can be checked."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest

from bench.cli.main import main
from bench.exec.local import RunOptions, evaluate, prepare
from bench.metrics.declare import values
from bench.models.requests import ChatRequest, ChatResult
from bench.tasks import generative
from bench.tasks.registry import get_task

TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
            "{% if add_generation_prompt %}<|assistant|>{% if enable_thinking %}<think>\n{% endif %}{% endif %}")
MC_TASKS = ["bbq", "stereoset", "crows_pairs", "mnli", "hans", "adult_fairness", "discrim_eval"]


def opts(tmp_path, **kw) -> RunOptions:
    base = dict(out=tmp_path / "runs", limit=4, sample_data=True, device="cpu", dtype="float32", quiet=True,
                mode="generate", max_new_tokens=6)
    return RunOptions(**{**base, **kw})


def items(run_dir) -> pd.DataFrame:
    return pd.read_parquet(run_dir / "items.parquet")


@pytest.mark.parametrize("name", MC_TASKS)
def test_every_multiple_choice_task_generates_on_the_tiny_model(tiny_backend, tmp_path, name):
    (run_dir,) = evaluate(tiny_backend.ref, [get_task(name)], opts(tmp_path), backend=tiny_backend)
    df = items(run_dir)
    assert run_dir.parent.name == name  # under its settings key, apart from log-likelihood runs
    assert {"generation", "extracted", "parse_status", "parsed", "reasoning_tokens"} <= set(df.columns)
    assert not df["template_used"].any()  # the tiny tokenizer has no chat template: a plain prompt
    assert (df["new_tokens"] > 0).all()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["mode"] == "generate"
    assert metrics["metrics"]["parse_failure_rate"] == pytest.approx(1 - df["parsed"].mean())
    assert sum(metrics["parse_status_counts"].values()) == len(df)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["settings"]["mode"] == "generate" and manifest["settings"]["chat_template"] == "none"


def scripted(answers: dict[str, str], think: dict[str, int] | None = None):
    """A generate_chat that answers by item: the text whose key occurs in the prompt."""
    def generate_chat(requests, progress=None):
        out = []
        for r in requests:
            key = next(k for k in answers if k in r.prompt)
            text = answers[key]
            out.append(ChatResult(text=text, prompt_tokens=10, new_tokens=len(text.split()),
                                  think_tokens=(think or {}).get(key, 0), think_forced_close=False,
                                  hit_max_new_tokens=False, template_used=True))
        return out
    return generate_chat


def key(d: dict) -> str:
    return f"{d['context']}\nQuestion: {d['question']}"


def bbq_docs(tmp_path, limit=6):
    task = get_task("bbq")
    return prepare(task, dataclasses.replace(opts(tmp_path), limit=limit)).docs


def test_metrics_over_parsed_answers_and_parse_failures_counted(tiny_backend, tmp_path, monkeypatch):
    docs = bbq_docs(tmp_path)
    letters = "ABC"
    answers = {}
    for i, d in enumerate(docs):
        gold = int(d["label"])
        # items 0-2 right, item 3 wrong, item 4 unparseable (two letters), item 5 right after reasoning
        if i in (0, 1, 2):
            answers[key(d)] = f"Answer: {letters[gold]}"
        elif i == 3:
            answers[key(d)] = f"Answer: {letters[(gold + 1) % 3]}"
        elif i == 4:
            answers[key(d)] = "A or B"
        else:
            answers[key(d)] = f"<think>let me see</think>\nAnswer: {letters[gold]}"
    assert len(answers) == len(docs)
    monkeypatch.setattr(tiny_backend, "generate_chat", scripted(answers, {key(docs[5]): 7}))
    (run_dir,) = evaluate(tiny_backend.ref, [get_task("bbq")], opts(tmp_path, limit=6), backend=tiny_backend)
    df = items(run_dir).set_index("item_id")
    m = json.loads((run_dir / "metrics.json").read_text())["metrics"]
    assert m["n_parsed"] == 5 and m["parse_failure_rate"] == pytest.approx(1 / 6)
    assert m["accuracy"] == pytest.approx(4 / 5)  # over parsed answers
    assert m["accuracy_all_items"] == pytest.approx(4 / 6)  # unparseable counted wrong
    assert m["reasoning_share"] == pytest.approx(1 / 6)
    assert m["reasoning_tokens_mean"] == pytest.approx(7) and m["reasoning_tokens_mean_all"] == pytest.approx(7 / 6)
    assert (df["parse_status"] == "ambiguous").sum() == 1
    assert (df.loc[~df["parsed"], "pred"] == -1).all()


def test_compare_pairs_reasoning_length_and_flips(tiny_backend, tmp_path, monkeypatch):
    from bench.compare import pairing, report

    docs = bbq_docs(tmp_path)
    keys = [key(d) for d in docs]
    gold = {key(d): "ABC"[int(d["label"])] for d in docs}
    base = {k: f"<think>{'x ' * 20}</think>Answer: {gold[k]}" for k in keys}
    monkeypatch.setattr(tiny_backend, "generate_chat", scripted(base, dict.fromkeys(keys, 20)))
    (b,) = evaluate(tiny_backend.ref, [get_task("bbq")], opts(tmp_path, limit=6, run_name="fam/base"),
                    backend=tiny_backend)
    wrong = {k: f"<think>x</think>Answer: {'ABC'[('ABC'.index(gold[k]) + 1) % 3]}" for k in keys[:2]}
    variant = {**base, **wrong}
    think = {k: (2 if k in wrong else 20) for k in keys}
    monkeypatch.setattr(tiny_backend, "generate_chat", scripted(variant, think))
    (v,) = evaluate(tiny_backend.ref, [get_task("bbq")], opts(tmp_path, limit=6, run_name="fam/rtn"),
                    backend=tiny_backend)
    cfg = report.settings(200, 0, "holm")
    doc = report.compare_pair(pairing.pair(pairing.load(b), pairing.load(v)), cfg)
    by_name = {m["name"]: m for m in doc["metrics"]}
    r = by_name["reasoning_tokens_mean_all"]
    assert r["test"] == "paired_bootstrap" and r["overall"]["delta"] == pytest.approx(2 * (2 - 20) / 6)
    assert r["overall"]["ci_low"] < r["overall"]["delta"] <= r["overall"]["ci_high"] <= 0
    assert by_name["accuracy_all_items"]["overall"]["discordant"]["base_only"] == 2  # became wrong
    assert by_name["parse_failure_rate"]["test"] == "mcnemar_exact"
    f = doc["flips"]["reasoning"]
    assert f["n_flipped"] == 2 and f["flipped_with_shorter_reasoning"] == 2
    assert f["reasoning_delta_mean_flipped"] == pytest.approx(-18)
    assert main(["compare", str(b), str(v), "--resamples", "200", "--no-plots", "--out", str(tmp_path / "c")]) == 0


def test_chat_template_thinking_budget_and_batch_independence(tiny_backend, monkeypatch):
    monkeypatch.setattr(tiny_backend.tokenizer, "chat_template", TEMPLATE, raising=False)
    req = ChatRequest(prompt="plain", messages=(("system", "Be brief."), ("user", "Pick A or B.")),
                      enable_thinking=True, max_new_tokens=4, max_think_tokens=5)
    ids, used, opened = tiny_backend.render_chat(req)
    text = tiny_backend.tokenizer.decode(ids)
    assert used and opened and "<|system|>Be brief.<|end|><|user|>Pick A or B.<|end|><|assistant|><think>\n" in text
    plain_ids, plain_used, _ = tiny_backend.render_chat(dataclasses.replace(req, chat_template="none"))
    assert not plain_used and tiny_backend.tokenizer.decode(plain_ids, skip_special_tokens=True) == "plain"
    reqs = [req, dataclasses.replace(req, messages=(("user", "Another, longer question here?"),)),
            dataclasses.replace(req, max_think_tokens=None, max_new_tokens=6)]
    together = tiny_backend.generate_chat(reqs)
    old = tiny_backend.max_batch_size
    try:
        tiny_backend.max_batch_size = 1
        alone = tiny_backend.generate_chat(reqs)
    finally:
        tiny_backend.max_batch_size = old
    assert together == alone  # greedy: the same text whatever the batch
    first = together[0]
    # a random model never closes the block: the budget closes it and the answer gets its own tokens
    assert first.think_forced_close and first.think_tokens == 5 and first.text.startswith("<think>\n")
    assert "</think>" in first.text
    assert first.new_tokens == 5 + 4
    assert together[2].new_tokens <= 6 and not together[2].think_forced_close


def test_fewshot_split_is_held_out_and_the_same_for_every_variant(tmp_path):
    task = get_task("bbq")
    o = opts(tmp_path, limit=None, num_fewshot=2)
    a, b = prepare(task, o), prepare(task, dataclasses.replace(o, mode="loglikelihood", max_new_tokens=None))
    ids = {task.item_id(d) for d in a.docs}
    shots = [[task.item_id(s) for s in d["__fewshot__"]] for d in a.docs]
    assert all(len(s) == 2 for s in shots) and not ids & {i for s in shots for i in s}
    assert shots == [[task.item_id(s) for s in d["__fewshot__"]] for d in b.docs]
    assert len(a.docs) + 16 == 64  # a quarter of the 64 sample items is held out
    lt = prepare(task, dataclasses.replace(o, mode="loglikelihood", max_new_tokens=None)).task
    ctx = lt.requests(b.docs[0])[0].context
    assert ctx.count("Question:") == 3 and ctx.endswith(lt.render(b.docs[0]))
    gt = a.task
    user = gt.requests(a.docs[0])[0].messages
    assert [r for r, _ in user] == ["user", "assistant", "user", "assistant", "user"]
    assert user[1][1].startswith("Answer: ")


def test_option_order_is_seeded_per_item_and_mapped_back(tmp_path):
    task = get_task("stereoset")
    p = prepare(task, opts(tmp_path, limit=None))
    orders = [generative.option_order(p.task, d, 3) for d in p.docs]
    assert len({tuple(o) for o in orders}) > 1
    assert orders == [generative.option_order(p.task, d, 3) for d in p.docs]
    d, order = p.docs[0], orders[0]
    letter = "ABC"[order.index(0)]  # the stereotype's letter
    res = ChatResult(f"Answer: {letter}", 5, 2, 0, False, False, True)
    row = p.task.record(d, [res])
    assert row["choice"] == 0 and row["chosen"] == "stereotype"


def test_generative_task_metrics_by_hand():
    from bench.metrics import crows_pairs, discrim, stereoset

    m = stereoset.generative_metrics(pd.Series(["a", "a", "a", "b", "b"]),
                                     pd.Series(["stereotype", "anti_stereotype", "unrelated", "stereotype",
                                                "stereotype"]))
    # term a: SS 50, LMS 66.7; term b: SS 100, LMS 100
    assert m["ss"] == pytest.approx(75) and m["lms"] == pytest.approx((200 / 3 + 100) / 2)
    assert m["icat"] == pytest.approx(m["lms"] * 25 / 50)
    df = pd.DataFrame({"prefers_more": [True, True, False, True], "stereo_antistereo": ["stereo"] * 3 + ["antistereo"]})
    c = crows_pairs.generative_metrics(df)
    assert c["pct_stereotype"] == 75 and c["pct_stereotype_stereo"] == pytest.approx(200 / 3)
    df = pd.DataFrame({"decision_yes": [True, False, True, True], "age": [20, 20, 60, 60],
                       "gender": ["male", "female", "male", "female"], "race": ["white"] * 4})
    g = discrim.generative_metrics(df)
    assert g["p_yes"] == 0.75 and g["yes_rate_diff_gender_female"] == pytest.approx(0.5 - 1.0)
    assert g["yes_rate_slope_age_decade"] == pytest.approx(0.5 / 4)
    assert g["yes_rate_diff_race_black"] is None


def test_reasoning_item_stats():
    from bench.metrics.reasoning import item_stats

    assert item_stats("<think>abc", 5, False, True) == {"has_reasoning": True, "reasoning_tokens": 5,
                                                        "reasoning_truncated": True, "answer_cut": True}
    assert item_stats("ok</think> B", 3, False, False)["reasoning_truncated"] is False
    assert item_stats("B", 0, False, False)["has_reasoning"] is False


@pytest.mark.parametrize(("argv", "needle"), [
    (["--tasks", "bbq", "--max-new-tokens", "8"], "only with --mode generate"),
    (["--tasks", "rtp_toxicity", "--mode", "generate"], "already generates text"),
    (["--tasks", "bbq", "--mode", "generate", "--chat-template", "/nonexistent/t.jinja"], "expected auto, none"),
    (["--tasks", "crows_pairs", "--num-fewshot", "2"], "no gold answers"),
    (["--tasks", "bbq", "--mode", "generate", "--max-think-tokens", "0"], "must be positive"),
])
def test_bad_generation_options_are_user_errors(tmp_path, capsys, argv, needle):
    code = main(["run", "--model", "builtin:tiny-llama", "--out", str(tmp_path / "r"), "--sample-data", *argv])
    assert code == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").rglob("manifest.json"))


def test_accuracy_all_items_counts_unparseable_as_wrong():
    task = get_task("mnli")
    df = pd.DataFrame({"parsed": [True, True, False], "choice": [0, 1, -1], "gold": [0, 0, 2], "pred": [0, 1, -1],
                       "pred_norm": [0, 1, -1], "has_reasoning": [False] * 3, "reasoning_tokens": [0] * 3,
                       "reasoning_truncated": [False] * 3, "answer_cut": [False] * 3, "new_tokens": [3, 3, 3]})
    m = values(generative.declared_metrics(task.hooks), df)
    assert m["accuracy"] == 0.5 and m["accuracy_all_items"] == pytest.approx(1 / 3)
    assert m["accuracy_contradiction"] is None  # the only contradiction item did not parse


@pytest.mark.parametrize("name", ["reasoning-smollm2", "reasoning-qwen3", "reasoning-r1-distill"])
def test_reasoning_matrices_plan(name):
    from bench.cli.options import file_options
    from bench.exec.plan import load_matrix, plan
    from bench.paths import repo_root

    matrix = load_matrix(repo_root() / "configs" / "matrices" / f"{name}.yaml")
    runs = plan(matrix)
    assert len({r.family for r in runs}) == 2
    for fam in matrix.families:
        values = file_options(fam.run, name)
        assert values["mode"] == "generate"
        assert set(values) <= {f.name for f in dataclasses.fields(RunOptions)}


def test_matrix_members_run_with_their_own_settings(tmp_path):
    template = tmp_path / "chat.jinja"
    template.write_text(TEMPLATE)
    matrix = tmp_path / "m.yaml"
    matrix.write_text(f"""name: m
families:
  - {{base: "builtin:tiny-llama", name: plain, run: {{mode: generate, chat_template: none, max_new_tokens: 3}}}}
  - {{base: "builtin:tiny-llama", name: chat, run: {{mode: generate, chat_template: "{template}", max_new_tokens: 3}}}}
tasks: [bbq]
limit: 3
sample_data: true
""")
    assert main(["run", str(matrix), "--out", str(tmp_path / "runs"), "--quiet"]) == 0
    (plain_dir,) = (tmp_path / "runs" / "plain" / "base" / "bbq").iterdir()
    (chat_dir,) = (tmp_path / "runs" / "chat" / "base" / "bbq").iterdir()
    plain, chat = items(plain_dir), items(chat_dir)
    assert not plain["template_used"].any() and chat["template_used"].all()
    assert list(plain["item_id"]) == list(chat["item_id"])
    matrix.write_text(matrix.read_text().replace("max_new_tokens: 3}", "max_new_tokens: 0}", 1))
    assert main(["run", str(matrix), "--out", str(tmp_path / "bad2"), "--quiet"]) == 2


def test_generative_runs_of_tasks_without_gold_compare(tiny_backend, tmp_path, monkeypatch):
    from bench.compare import pairing, report

    def answer(text):
        def generate_chat(requests, progress=None):
            return [ChatResult(text, 10, 3, 0, False, False, True) for _ in requests]
        return generate_chat

    dirs = []
    for name, text in (("base", "Answer: A"), ("rtn", "I cannot tell.")):
        monkeypatch.setattr(tiny_backend, "generate_chat", answer(text))
        dirs += evaluate(tiny_backend.ref, [get_task("crows_pairs")], opts(tmp_path, run_name=f"f/{name}"),
                         backend=tiny_backend)
    pair = pairing.pair(pairing.load(dirs[0]), pairing.load(dirs[1]))
    doc = report.compare_pair(pair, report.settings(100, 0, "holm"))
    by_name = {m["name"]: m for m in doc["metrics"]}
    assert by_name["parse_failure_rate"]["overall"]["delta"] == 1.0
    assert by_name["pct_stereotype"]["overall"]["variant"] is None  # nothing parsed in the variant
    assert doc["flips"]["overall"]["n_flipped"] == 4 and doc["flips"]["reasoning"]["became_unparseable"] == 4


@pytest.mark.parametrize("name", ["bbq", "crows_pairs"])
def test_unparseable_answers_are_not_nonfinite(tiny_backend, tmp_path, monkeypatch, name):
    """An answer naming no option is a parse failure, never a non-finite item (which would fail the run)."""
    monkeypatch.setattr(tiny_backend, "generate_chat", lambda requests, progress=None: [
        ChatResult(text="I would rather not say.", prompt_tokens=10, new_tokens=5, think_tokens=0,
                   think_forced_close=False, hit_max_new_tokens=False, template_used=False) for _ in requests])
    (run_dir,) = evaluate(tiny_backend.ref, [get_task(name)], opts(tmp_path), backend=tiny_backend)
    df = items(run_dir)
    assert not df["parsed"].any() and not df["nonfinite"].any()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["n_nonfinite"] == 0 and metrics["metrics"]["parse_failure_rate"] == 1.0
    assert json.loads((run_dir / "manifest.json").read_text())["data"]["n_nonfinite"] == 0


def test_generate_options_are_accepted_for_multiple_choice_tasks(tmp_path, capsys):
    """The generate-mode flags are run settings, not task options: the option check passes them for any task."""
    rc = main(["run", "--model", "builtin:tiny-llama", "--tasks", "mnli,hans", "--mode", "generate", "--limit", "2",
               "--max-new-tokens", "2", "--chat-template", "none", "--system-prompt", "Be brief.",
               "--no-enable-thinking", "--out", str(tmp_path / "runs"), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    for name in ("mnli", "hans"):
        (settings,) = (tmp_path / "runs" / "tiny-llama" / name).iterdir()
        options = json.loads((settings / "manifest.json").read_text())["task"]["options"]
        assert options["mode"] == "generate" and options["system_prompt"] == "Be brief."
