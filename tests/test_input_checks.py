"""Issue 16, items 12, 14 and 15: a non-UTF-8 calibration file, BBQ labels given as booleans, duplicate BBQ ids
and options that do not apply to the run's tasks are one-line errors before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from bench.paths import repo_root
from tests.test_cli import cli
from tests.test_cli_errors import refused
from tests.test_os_errors import bbq_folder


def test_non_utf8_calibration_file_is_refused(tmp_path):
    calib = tmp_path / "calib.txt"
    calib.write_bytes("Le café est très bon.\n".encode("latin-1"))
    recipe = yaml.safe_load((repo_root() / "configs" / "variants" / "gptq-w4a16.yaml").read_text())
    recipe.setdefault("calibration", {})["source"] = str(calib)
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    refused(cli("compress", "--model", "builtin:tiny-llama", "--recipe", str(tmp_path / "r.yaml"), "--out",
                str(tmp_path / "v")), str(calib), "not UTF-8")
    assert not (tmp_path / "v").exists()


def _rewrite_age(src: Path, edit) -> Path:
    path = src / "data" / "Age.jsonl"
    docs = [json.loads(ln) for ln in path.read_text().splitlines()]
    path.write_text("\n".join(json.dumps(d) for d in edit(docs)) + "\n")
    return path


def test_bbq_label_true_is_refused(tmp_path):
    src = bbq_folder(tmp_path)
    path = _rewrite_age(src, lambda docs: [{**docs[0], "label": True}, *docs[1:]])
    refused(cli("data", "import", "bbq", str(src)), f"{path} line 1", "'label'", "True")


def test_bbq_duplicate_id_is_refused_at_import_naming_it(tmp_path):
    src = bbq_folder(tmp_path)
    path = _rewrite_age(src, lambda docs: [*docs, docs[0]])
    n = len(path.read_text().splitlines())
    first = json.loads(path.read_text().splitlines()[0])["example_id"]
    refused(cli("data", "import", "bbq", str(src)), f"{path} line {n}", f"example_id {first}", "more than once")


def test_option_that_does_not_apply_is_refused(tmp_path):
    out = tmp_path / "out"
    refused(cli("run", "--model", "builtin:tiny-llama", "--tasks", "bbq", "--classifier", "garbage:xyz", "--out",
                str(out), "--limit", "4", "--quiet"), "--classifier", "bbq", "rtp_toxicity")
    refused(cli("run", "--model", "builtin:tiny-llama", "--tasks", "bbq", "--samples", "3", "--out", str(out),
                "--limit", "4", "--quiet"), "--samples")
    assert not out.exists()


def test_option_applies_only_to_the_tasks_that_read_it(tmp_path):
    from bench.exec.local import RunOptions, check_options, with_options
    from bench.tasks.registry import get_task

    bbq, rtp = get_task("bbq"), get_task("rtp_toxicity")
    opts = RunOptions(task_options={"classifier": "builtin:tiny-detoxify"})
    check_options([bbq, rtp], [opts, opts])
    assert "classifier" not in with_options(bbq, opts).spec.options
    assert with_options(rtp, opts).spec.options["classifier"] == "builtin:tiny-detoxify"
