"""The run options, defined once: every `qdbench run` flag and every field of `RunOptions`, in one table.

Everything else derives from `OPTIONS`: the argparse flags (bench/cli/options.py), the matrix fields and their
validation (`target` run or task), `RunOptions` (target run), the settings hash (`settings`: an option that can
change an item's answer; bench/exec/local.py `run_settings`) and the run key (`run_key`). A new option is one row
here; choose its `settings` with care, since it enters the folder name of every run made afterwards.

target: `select` chooses what to run (a matrix file, a model, tasks) and is no matrix field; `where` is a
RunOptions field a matrix says in its own way (its `out:` folder, a task entry's data); `machine` says where and
how a run executes, never part of its settings; `run` a RunOptions field and matrix field; `task` a task option
(RunOptions.task_options) and matrix field; `internal` a RunOptions field the program sets, no flag.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Target = Literal["select", "where", "machine", "run", "task", "internal"]
Action = Literal["store", "store_true", "store_false", "optional_bool"]


def batch_size(text: str) -> int | str:
    """--batch-size: a positive number of rows, or 'auto'."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive number of rows or 'auto'")
    return value


@dataclass(frozen=True)
class Option:
    name: str  # the argparse dest, the matrix field, the RunOptions field or task option
    target: Target
    type: Any = str  # what argparse converts the text with; a matrix field of type int/float is checked as one
    default: Any = None
    help: str | None = None
    action: Action = "store"
    choices: tuple | None = None
    flag: str | None = None  # default: --name-with-dashes
    settings: bool = False  # can change an item's answer: part of the settings hash (run and internal only)
    run_key: bool = False  # part of the run key (which names a run's items and answers exactly)
    positive: bool = False
    group: str | None = None  # an argparse group title
    annotation: str = "Any"  # the RunOptions field's type, as written
    factory: Any = None  # a RunOptions default that is built fresh for each instance

    @property
    def flags(self) -> list[str]:
        return [self.flag or "--" + self.name.replace("_", "-")]


RUN = "executor (matrix files)"
OPTIONS: tuple[Option, ...] = (
    Option("matrix", "select", Path, flag="matrix", help="a matrix file (configs/matrices/*.yaml) instead of "
           "--model/--tasks: base models, their variants and tasks; it may set any option below by its name (e.g. "
           "batch_tokens:), and options given here win over the file"),
    Option("model", "select", help="builtin:NAME, a local model folder, or a hub id"),
    Option("revision", "where", help="hub revision (branch, tag or commit)", annotation="str | None"),
    Option("tasks", "select", help="comma-separated task names (see `qdbench tasks list`)"),
    Option("suite", "select", help="a suite of tasks with their limits: a name in configs/suites/ or a YAML path"),
    Option("variants", "select", help="with a matrix: only these of its variants (comma-separated names; the base "
           "always runs), e.g. one more task for the variants a claim needs"),
    Option("family", "select", Path, help="a published family (configs/families/*.yaml): the teacher and its "
           "published students, evaluated on the same items"),
    Option("out", "where", Path, Path("runs"), "runs folder (default: runs/)", annotation="Path"),
    Option("limit", "run", int, None, "evaluate a seeded, group-stratified sample of N items", settings=True,
           positive=True, annotation="int | None"),
    Option("data_dir", "where", Path, None, "read the task's published files from this folder",
           annotation="Path | None"),
    Option("sample_data", "run", bool, False, "use the tasks' shipped samples even where published data was "
           "imported", action="store_true", annotation="bool"),
    Option("seed", "run", int, 1234, settings=True, run_key=True, annotation="int"),
    Option("device", "run", str, "auto", "auto, cpu, cuda, cuda:N", annotation="str"),
    Option("dtype", "run", str, "auto", "auto (fp32 on CPU, bf16 on CUDA), float32, bfloat16, float16",
           settings=True, run_key=True, annotation="str"),
    Option("batch_tokens", "run", int, 16384, "tokens per forward batch", positive=True, annotation="int"),
    Option("backend", "run", str, "hf", "hf (default), vllm (make vllm-env, or vLLM installed), vllm+hf (vLLM "
           "generates, the packed HF scorer scores), or lm-eval:NAME (e.g. lm-eval:hf)", settings=True,
           annotation="str"),
    Option("tensor_parallel_size", "run", int, 1, "vLLM: GPUs to split the model over", annotation="int"),
    Option("batch_size", "run", batch_size, None, "rows per forward batch, or 'auto': probe the largest that fits "
           "and back off on out-of-memory without losing work", annotation="int | str | None"),
    Option("device_map", "run", str, None, "auto: spread the model over every device (HF backend)",
           choices=("auto",), annotation="str | None"),
    Option("request_cache", "run", bool, True, "do not reuse or store answers in the request cache "
           "($QDBENCH_HOME/request-cache)", action="store_false", flag="--no-request-cache", annotation="bool"),
    Option("chunk_items", "run", int, 64, "items per atomic write (the resume granularity)", positive=True,
           annotation="int"),
    Option("trust_remote_code", "run", bool, False, "allow the model's own Python code", action="store_true",
           annotation="bool"),
    Option("allow_pickle", "machine", bool, False, "load a model folder that has only pickle weights (*.bin); "
           "warns: unpickling can run code", action="store_true"),
    Option("samples", "task", int, None, "generation tasks: samples per prompt (overrides the task's)",
           positive=True),
    Option("classifier", "task", help="toxicity classifier: detoxify:original, detoxify:unbiased, hf:NAME_OR_PATH "
           "builtin:profanity-check (offline offensive-language classifier, not Detoxify) or builtin:tiny-detoxify "
           "(random, for tests)"),
    Option("classifier_path", "task", Path, help="local Detoxify checkpoint folder or HF classifier folder"),
    Option("classifier_label", "task", help="the classifier's toxic label (default: toxicity / toxic)"),
    Option("regard_classifier", "task", help="bold: a regard classifier, hf:PATH (labels negative, neutral, "
           "positive, other); without one the regard metrics are skipped"),
    Option("mode", "run", str, "loglikelihood", "multiple-choice tasks: score options by log-likelihood (default) "
           "or generate an answer letter", choices=("loglikelihood", "generate"), settings=True, annotation="str"),
    Option("chat_template", "run", str, "auto", "generate mode: auto (the model's, if it has one), none (plain "
           "prompt) or a file holding a Jinja chat template", settings=True, annotation="str"),
    Option("system_prompt", "run", help="generate mode: a system message", settings=True, annotation="str | None"),
    Option("max_new_tokens", "run", int, None, "generate mode: answer token budget (default 32)", settings=True,
           annotation="int | None"),
    Option("max_think_tokens", "run", int, None, "generate mode: reasoning token budget; a think block still open "
           "then is closed and the answer gets --max-new-tokens", settings=True, annotation="int | None"),
    Option("enable_thinking", "run", bool, None, "generate mode: pass enable_thinking to templates that take it "
           "(Qwen3)", action="optional_bool", settings=True, annotation="bool | None"),
    Option("num_fewshot", "run", int, 0, "few-shot examples per item, drawn seeded from a held-out split (both "
           "modes)", settings=True, annotation="int"),
    Option("quiet", "run", bool, False, "print only the final table and errors (no progress, no notes); library "
           "messages always go to OUT/qdbench.log", action="store_true", annotation="bool"),
    Option("executor", "machine", str, "local", "local (default): one job after another here; ray: jobs on a Ray "
           "cluster", choices=("local", "ray"), group=RUN),
    Option("address", "machine", help="Ray cluster address (default: start a local one; `auto`: the running one)",
           group=RUN),
    Option("retries", "machine", int, 2, "ray: retries of a failed or killed job (default 2)", group=RUN),
    Option("job_cpus", "machine", float, 1.0, "ray: CPUs per job (default 1)", group=RUN),
    Option("job_gpus", "machine", float, None, "ray: GPUs per job (default 1 where the cluster has GPUs)", group=RUN),
    Option("job_memory", "machine", float, None, "ray: memory per job in GiB (default: no reservation)", group=RUN),
    # set by the program, not by a flag
    Option("variant", "internal", dict, None, factory=lambda: {"family": None, "name": "base", "recipe": None,
                                                               "recipe_hash": None}, run_key=True,
           annotation="dict"),
    Option("run_name", "internal", annotation="str | None"),
    Option("task_options", "internal", dict, factory=dict, annotation="dict"),  # over the task YAML's `options:`
    Option("command_line", "internal", annotation="list[str] | None"),  # None: this process's own
)

BY_NAME = {o.name: o for o in OPTIONS}
FIELDS = tuple(o for o in OPTIONS if o.target in ("where", "run", "internal"))  # RunOptions, in this order
MATRIX_FIELDS = tuple(o for o in OPTIONS if o.target in ("run", "task"))
NOT_SETTINGS = frozenset(o.name for o in FIELDS if not o.settings)
RUN_KEY_FIELDS = tuple(o.name for o in FIELDS if o.run_key)
POSITIVE = tuple(o.name for o in OPTIONS if o.positive)


def _generation_options(self) -> dict:
    """The settings that shape prompts and answers, as task options (so they enter the run key); empty for a
    zero-shot log-likelihood run, whose key is unchanged."""
    from bench.tasks import generative

    out: dict = {"num_fewshot": self.num_fewshot} if self.num_fewshot else {}
    if self.mode == "generate":
        out.update(mode="generate", prompt_format=generative.prompt_format(),
                   chat_template=generative.chat_template_setting(self.chat_template),
                   system_prompt=self.system_prompt,
                   max_new_tokens=self.max_new_tokens, max_think_tokens=self.max_think_tokens,
                   enable_thinking=self.enable_thinking)
    return out


def _field(o: Option) -> tuple[str, str, Any]:
    return o.name, o.annotation, field(default_factory=o.factory) if o.factory else field(default=o.default)


RunOptions = dataclasses.make_dataclass(
    "RunOptions", [_field(o) for o in FIELDS], namespace={
        "generation_options": _generation_options, "__module__": __name__,
        "__doc__": "How one run is made: the table's run, where and internal options, with their defaults."})
