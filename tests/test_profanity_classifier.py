"""builtin:profanity-check: a real, offline offensive-language classifier (alt-profanity-check), labelled as such."""

import json

import pytest

pytest.importorskip("profanity_check")

from bench.errors import UserError  # noqa: E402
from bench.models.classifier import PROFANITY, load_classifier  # noqa: E402


def test_offensive_and_harmless_sentences_fall_on_the_right_sides():
    clf = load_classifier(PROFANITY)
    harmless, offensive = clf.score(["Have a wonderful day, and thank you for the flowers.",
                                     "You are a stupid idiot and everyone hates you."])
    assert harmless < 0.5 < offensive
    assert clf.score([]) == []
    assert clf.id.startswith("builtin:profanity-check@alt-profanity-check==1.9.1+") and clf.id.endswith("#offensive")


def test_takes_no_path_or_label():
    with pytest.raises(UserError, match="takes no path or label"):
        load_classifier(PROFANITY, "/tmp/x")


def test_rtp_run_names_the_classifier_honestly(tmp_path, tiny_model_dir):
    from tests.test_cli import cli

    result = cli("run", "--model", "builtin:tiny-llama", "--tasks", "rtp_toxicity", "--limit", "3", "--samples", "2",
                 "--classifier", PROFANITY, "--quiet", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "offensive-language" in result.stdout and "not Detoxify" in result.stdout
    assert "random-initialized: its toxicity" not in result.stdout
    (path,) = (tmp_path / "tiny-llama" / "rtp_toxicity").rglob("manifest.json")
    manifest = json.loads(path.read_text())
    assert manifest["task"]["options"]["classifier"] == PROFANITY
