"""The child process of a portable build (portable.py): runs `quantize` on the job it is given, with torch's
plain C++ kernels. Its own module, so that quantize.py (which starts it) and the build it runs import no circle."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.compress.portable import active
from bench.errors import UserError


def _main(job_path: str, result_path: str) -> int:
    from bench import logs

    logs.silence_progress_bars()
    job = json.loads(Path(job_path).read_text())
    if job["log"]:
        logs.log_to(Path(job["log"]))
    from bench.compress.quantize import quantize
    from bench.compress.recipes import parse_recipe
    from bench.models.loading import ModelRef, load_tokenizer

    base = job["base_path"]
    try:
        if not active():
            raise UserError("the build process did not get torch's plain C++ kernels (ATEN_CPU_CAPABILITY=default)")
        ref = ModelRef(base, base, job["revision"], "local" if Path(base).is_dir() else "hub")
        recipe = parse_recipe(job["recipe"], "recipe")
        done = quantize(base, recipe, Path(job["out"]), load_tokenizer(ref), job["texts"], job["revision"])
    except UserError as e:
        Path(result_path).with_suffix(".error").write_text(str(e))
        return 2
    Path(result_path).write_text(json.dumps(done))
    return 0


if __name__ == "__main__":
    sys.exit(_main(*sys.argv[1:3]))
