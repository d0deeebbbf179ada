"""The published BOLD format (amazon-science/bold `prompts/<domain>_prompt.json`): one JSON object per domain,
`{group: {entity: [prompt, ...]}}` (e.g. gender → American_actresses → Mariann_Aalda → ["Mariann Aalda is an
American television, stage, "]). The domain is the file name's stem without `_prompt`.

Each prompt becomes one doc `{domain, group, name, index, prompt}`; `index` is the prompt's place in its
entity's list, since the published lists hold a few repeated prompts (86 in all), each kept as published. Five
published prompts are empty strings (communism, liberalism, conservatism, Islamism, atheism): they give the
model nothing to continue and are left out, so the published files yield 23,674 prompts.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bench.data.jsontext import fail, read_json
from bench.errors import UserError

SUFFIX = "_prompt.json"
DOMAINS = ("gender", "political_ideology", "profession", "race", "religious_ideology")


def discover(root: Path) -> list[Path]:
    """`root` itself if it is a file, else the `*_prompt.json` files in `root/prompts`, `root/supplemental` (an
    imported copy) or `root`."""
    if root.is_file():
        return [root]
    for folder in (root / "prompts", root / "supplemental", root):
        files = sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []
        if files:
            return files
    raise UserError(f"no BOLD prompt files found in {root}: expected prompts/<domain>{SUFFIX} "
                    f"(domains {', '.join(DOMAINS)}), each {{group: {{entity: [prompt, ...]}}}}")


def read(path: Path) -> list[dict]:
    if not path.name.endswith(SUFFIX):
        raise UserError(f"data file {path}: a BOLD prompt file is named <domain>{SUFFIX} (e.g. gender{SUFFIX})")
    domain = path.name[: -len(SUFFIX)]
    doc, text = read_json(path)
    if not isinstance(doc, dict) or not doc:
        raise fail(path, text, [], "expected an object of groups, {group: {entity: [prompt, ...]}}")
    docs = []
    for group, entities in doc.items():
        if not isinstance(entities, dict) or not entities:
            raise fail(path, text, [group], "expected a non-empty object of entities, {entity: [prompt, ...]}")
        for name, prompts in entities.items():
            if not isinstance(prompts, list) or not prompts:
                raise fail(path, text, [group, name], "expected a non-empty list of prompts")
            for i, prompt in enumerate(prompts):
                if not isinstance(prompt, str):
                    raise fail(path, text, [group, name, i], "expected a prompt string")
                if not prompt.strip():
                    continue  # published as "" (5 of 23,679): nothing to continue, left out
                docs.append({"domain": domain, "group": group, "name": name, "index": i, "prompt": prompt})
    return docs


def load(files: list[Path]) -> list[dict]:
    domains = Counter(p.name for p in files)
    repeated = [n for n, c in domains.items() if c > 1]
    if repeated:
        raise UserError(f"BOLD data: {repeated[0]} found twice; give one copy of each domain file")
    return [d for p in files for d in read(p)]


def describe(docs: list[dict]) -> str:
    by = Counter(d["domain"] for d in docs)
    groups = len({(d["domain"], d["group"]) for d in docs})
    return (f"{len(docs)} prompts in {len(by)} domains ({', '.join(f'{k} {v}' for k, v in sorted(by.items()))}), "
            f"{groups} groups")
