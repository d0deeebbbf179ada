"""Saving a tokenizer so that its folder's bytes do not depend on the machine that wrote it (variants, built-in
models and distilled students all save one). Kept apart from loading.py, which resolves built-in models, so that
building one (builtin.py, smollm2.py) imports no loader back."""

from __future__ import annotations

import json
from pathlib import Path

# Settings of the call that loaded a tokenizer, which transformers copies into the tokenizer_config.json it saves:
# `local_files_only` is true where the hub was offline and false elsewhere, so they are left out of saved folders.
LOADER_SETTINGS = ("local_files_only", "is_local", "cache_dir")


def save_tokenizer(tokenizer, folder: Path) -> None:
    """`tokenizer.save_pretrained(folder)` without the loader's settings (LOADER_SETTINGS): the folder's bytes
    must not depend on the machine or environment that wrote it."""
    tokenizer.save_pretrained(folder)
    path = Path(folder) / "tokenizer_config.json"
    if path.is_file():
        config = json.loads(path.read_text())
        if any(k in config for k in LOADER_SETTINGS):
            config = {k: v for k, v in config.items() if k not in LOADER_SETTINGS}
            path.write_text(json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
