"""Here, before a device call: write what benchmarks/gpu/run.sh carries to the GPU machine, which has no
registry and no ../shared beside the checkout (its image: Python 3.12, torch 2.11, transformers 5.17).

    python benchmarks/gpu/prepare.py [--shared ../shared] [--items 3000] [--dest .whl/gpu]

writes, under `--dest` (git ignores .whl/):
  wheels/        the Python packages that image lacks (pydantic, gguf, lm-eval, llm-compressor and what
                 they import), downloaded for CPython 3.12 manylinux without their dependencies;
  data/bbq/      the BBQ items `qdbench run --limit N` would draw, in the published layout;
  data/tokenizer SmolLM2's tokenizer and config (the random-weight models use them too);
  data/prompts.jsonl   RealToxicityPrompts prompts for the generation measurement;
  ../gguf/part-* SmolLM2's GGUF file cut into two parts: one call carries at most 64 MiB, so the first part
                 travels with the rest and the second alone (run.sh joins them in its stash on the machine).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

# What the device image lacks, pinned as this project pins them (requirements/constraints.txt).
WHEELS = ["pydantic==2.14.3", "pydantic-core==2.50.4", "annotated-types==0.7.0", "typing-inspection==0.4.4",
          "typing-extensions==4.16.0", "gguf==0.19.0", "lm-eval==0.4.13", "datasets==5.2.0", "dill==0.4.1",
          "multiprocess==0.70.19", "evaluate==0.4.6", "sqlitedict==2.1.0", "word2number==1.1",
          "more-itertools", "pytablewriter", "llmcompressor==0.14.0.1", "compressed-tensors==0.19.0",
          "loguru==0.7.3"]
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64"]
FIRST_PART_BYTES = 36 << 20


def pinned(name: str) -> str:
    """`name==version` from requirements/constraints.txt when the name has no version of its own."""
    if "==" in name:
        return name
    for line in (ROOT / "requirements" / "constraints.txt").read_text().splitlines():
        if line.lower().replace("_", "-").startswith(name.lower() + "=="):
            return line.strip()
    return name


def download_wheels(dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for spec in map(pinned, WHEELS):
        base = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(dest), spec]
        platform = ["--only-binary=:all:", "--python-version", "3.12", "--implementation", "cp",
                    *[a for p in PLATFORMS for a in ("--platform", p)]]
        if subprocess.run(base + platform, capture_output=True).returncode != 0:  # sdist-only: build a wheel
            subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dest), spec],
                           check=True)


def write_bbq(shared: Path, dest: Path, n: int) -> int:
    """The n items measure.py draws (stratified, seed 0), as published lines, so drawing n from them again
    gives the same items."""
    from bench.data import store
    from bench.data.sampling import stratified_sample
    from bench.tasks.registry import get_task

    task = get_task("bbq")
    docs = store.load(task.spec, shared / "bbq").docs
    keep = {(docs[i]["category"], docs[i]["example_id"]) for i in stratified_sample(docs, n, task.spec.stratify_by,
                                                                                     seed=0)}
    (dest / "data").mkdir(parents=True, exist_ok=True)
    written = 0
    for path in sorted((shared / "bbq" / "data").glob("*.jsonl")):
        lines = [line for line in path.read_text().splitlines()
                 if line.strip() and (json.loads(line)["category"], json.loads(line)["example_id"]) in keep]
        (dest / "data" / path.name).write_text("\n".join(lines) + "\n")
        written += len(lines)
    return written


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    p.add_argument("--items", type=int, default=3000)
    p.add_argument("--dest", type=Path, default=ROOT / ".whl" / "gpu")
    args = p.parse_args()
    from bench.models.builtin import materialize
    from bench.models.smollm2 import gguf_file

    if args.dest.exists():
        shutil.rmtree(args.dest)
    download_wheels(args.dest / "wheels")
    data = args.dest / "data"
    print(f"BBQ items: {write_bbq(args.shared / 'data', data / 'bbq', args.items)}")
    model = materialize("smollm2-135m")
    (data / "tokenizer").mkdir(parents=True)
    for f in model.iterdir():
        if f.name.startswith(("tokenizer", "special_tokens", "config", "generation_config", "chat_template")):
            shutil.copy(f, data / "tokenizer" / f.name)
    rtp = (args.shared / "data" / "realtoxicityprompts" / "toxic.jsonl").read_text().splitlines()[:100]
    (data / "prompts.jsonl").write_text("".join(json.dumps({"prompt": json.loads(line)["prompt"]["text"]}) + "\n"
                                                for line in rtp))
    parts = args.dest.parent / "gguf"
    shutil.rmtree(parts, ignore_errors=True)
    parts.mkdir()
    blob = gguf_file().read_bytes()
    (parts / "part-1").write_bytes(blob[:FIRST_PART_BYTES])
    (parts / "part-2").write_bytes(blob[FIRST_PART_BYTES:])
    for folder in (args.dest, parts):
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        print(f"{folder}: {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
