"""Checks of a local model folder before anything in it is read: its weight files must be safetensors (pickle only
when the user opts in, with a warning) and must lie inside the folder, not behind a symlink to elsewhere."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.errors import UserError

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


def check_model_folder(folder: Path, spec: str, allow_pickle: bool = False) -> None:
    root = folder.resolve()
    allowed = [root]
    if folder.parent.name == "snapshots":  # a Hugging Face cache snapshot links into its repo's blobs/
        allowed.append((folder.parent.parent / "blobs").resolve())
    for p in sorted(folder.iterdir()):
        if p.is_symlink() and not any(p.resolve().is_relative_to(a) for a in allowed):
            raise UserError(f"model path '{spec}': {p.name} is a symlink to {p.resolve()}, outside the model folder; "
                            "copy the file into the folder if you mean to use it")
    names = [p.name for p in folder.iterdir() if p.is_file()]
    pickles = sorted(n for n in names if n.endswith(PICKLE_SUFFIXES))
    if pickles and not any(n.endswith(".safetensors") for n in names):
        if not allow_pickle:
            raise UserError(f"model path '{spec}': only pickle weights ({', '.join(pickles)}); qdbench loads "
                            "safetensors only, since unpickling a file can run code: convert them, or pass "
                            "--allow-pickle if you trust their source")
        print(f"qdbench: warning: model path '{spec}': loading pickle weights ({', '.join(pickles)}) because of "
              "--allow-pickle; unpickling an untrusted file can run code", file=sys.stderr)
