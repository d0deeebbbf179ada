"""The README's "First steps" block, run as written, in order, on a fresh runs folder (tiny model, offline)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from tests.test_cli import cli

pytest.importorskip("llmcompressor")
REPO = Path(__file__).resolve().parents[1]


def first_steps() -> list[list[str]]:
    text = (REPO / "README.md").read_text()
    section = text.split("## First steps", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    commands = []
    for line in block.splitlines():
        line = line.split("  #", 1)[0].strip()
        if not line or line.startswith("source ") or line == "make setup":
            continue
        words = shlex.split(line)
        if words == ["make", "demo"]:
            words = ["qdbench", "demo"]  # what `make demo` runs once the venv exists
        assert words[0] == "qdbench", f"README first steps: not a qdbench command: {line}"
        commands.append(words[1:])
    return commands


def test_readme_first_steps_work_in_order(tmp_path, monkeypatch, tiny_model_dir):
    for name in ("configs", "examples"):
        (tmp_path / name).symlink_to(REPO / name)
    monkeypatch.chdir(tmp_path)
    commands = first_steps()
    assert len(commands) >= 6
    outputs = []
    for args in commands:
        result = cli(*args)
        assert result.returncode == 0, f"qdbench {' '.join(args)} failed:\n{result.stderr}"
        outputs.append(result)
    runs = tmp_path / "runs"
    manifests = [json.loads(p.read_text()) for p in runs.rglob("manifest.json")]
    # demo (64 items) and the quickstart matrix (16) are two settings of the same family, side by side
    keys = {(m["variant"].get("name"), m["settings_key"]) for m in manifests if m["variant"].get("family")}
    assert len({k for _, k in keys}) == 2 and len(keys) == 6
    assert (runs / "compare" / "tiny-llama" / "compare.json").is_file()
    doc = json.loads((runs / "compare" / "tiny-llama" / "compare.json").read_text())
    assert len(doc["comparisons"]) == 4  # two variants under each of the two settings
    assert any(m["task"]["name"] == "trivia_mc" for m in manifests)


def test_licence_notice_and_citation():
    import yaml

    tomllib = pytest.importorskip("tomllib")

    assert "Apache License" in (REPO / "LICENSE").read_text() and "Version 2.0" in (REPO / "LICENSE").read_text()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    citation = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert citation["license"] == project["license"]["text"] == "Apache-2.0"
    assert citation["version"] == project["version"] and citation["cff-version"] == "1.2.0"
    notice = (REPO / "NOTICE").read_text()
    for sample in (REPO / "bench" / "data" / "samples").iterdir():
        assert sample.name in notice, f"NOTICE does not name {sample.name}"
