"""Keep third-party chatter out of the terminal: progress bars off, library loggers and warnings into a log file.

qdbench's own output (its progress display, notes, tables, errors) goes to the terminal; what llm-compressor
(loguru), compressed-tensors (tqdm), transformers, torch and Python warnings say goes to the log file, so a
warning is kept for whoever needs it without burying the results.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path

LIBRARY_LOGGERS = ("transformers", "torch", "llmcompressor", "compressed_tensors", "datasets", "accelerate",
                   "huggingface_hub", "bitsandbytes", "detoxify", "urllib3", "filelock", "fsspec", "matplotlib")
_state: dict = {"path": None, "handler": None, "loguru_sink": None, "new": ()}


def silence_progress_bars() -> None:
    """Environment switches read when the libraries are imported: call before anything imports them."""
    os.environ["TQDM_DISABLE"] = "1"  # tqdm reads TQDM_* once, at import (compressed-tensors, datasets, hub)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    # llm-compressor configures loguru at import: no console sink (route_libraries adds the log file; not
    # LLM_COMPRESSOR_LOG_FILE, which oneshot fills with DEBUG records of whole models).
    os.environ["LLM_COMPRESSOR_LOG_LEVEL"] = ""
    _tqdm_off()


def _tqdm_off() -> None:
    """compressed-tensors passes `disable=` explicitly, which beats TQDM_DISABLE: every tqdm bar in this
    process is off (qdbench's own display is rich, not tqdm)."""
    import tqdm.std

    cls = tqdm.std.tqdm
    if getattr(cls.__init__, "_qdbench_off", False):
        return
    original = cls.__init__

    def init(self, *args, **kwargs):
        kwargs["disable"] = True
        original(self, *args, **kwargs)

    init._qdbench_off = True  # type: ignore[attr-defined]
    cls.__init__ = init


def log_to(path: Path) -> Path:
    """Send library log records and Python warnings to `path` (appended; created on the first record)."""
    path = Path(path)
    if _state["path"] == path:
        return path
    root = logging.getLogger()
    if _state["handler"] is not None:
        root.removeHandler(_state["handler"])
        _state["handler"].close()
    _state["new"] = tuple(p for p in (path.parent, path) if not p.exists())
    handler = _LazyFile(path, delay=True, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    root.addHandler(handler)
    if root.level > logging.WARNING or root.level == logging.NOTSET:
        root.setLevel(logging.WARNING)
    _state.update(path=path, handler=handler)
    logging.captureWarnings(True)
    warnings.simplefilter("default")
    route_libraries()
    return path


def current_log() -> str | None:
    """The file library messages go to now (for a child process to append to), or None."""
    return str(_state["path"]) if _state["path"] is not None else None


class _LazyFile(logging.FileHandler):
    """Creates the file and its folder at the first record only: a command refused before any work leaves
    no folder behind."""

    def _open(self):
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()


def route_libraries() -> None:
    """Drop the terminal handlers libraries attach to their own loggers, so their records reach the log file.
    Called again after heavy imports, since torch and transformers add handlers when they are imported."""
    for name in LIBRARY_LOGGERS:
        lg = logging.getLogger(name)
        for h in list(lg.handlers):
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler):
                lg.removeHandler(h)
        lg.propagate = True
        if lg.level == logging.NOTSET or lg.level < logging.WARNING:
            lg.setLevel(logging.WARNING)
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.disable_default_handler()
        hf_logging.enable_propagation()
    if "loguru" in sys.modules and "llmcompressor" in sys.modules and _state["path"] is not None:
        from loguru import logger

        if _state["loguru_sink"] != _state["path"]:
            logger.remove()  # llm-compressor's stdout sink, added at its import
            logger.add(str(_state["path"]), level="WARNING", format="{time} {level} {name}: {message}",
                       delay=True)
            _state["loguru_sink"] = _state["path"]
        logger.enable("llmcompressor")


def discard_new_log() -> None:
    """A refused command leaves nothing behind: remove the log file (and its folder) if this command made them
    and the folder holds nothing else."""
    if _state["handler"] is not None:
        _state["handler"].close()
    for p in reversed(_state["new"]):
        try:
            p.unlink() if p.is_file() else p.rmdir()
        except OSError:
            return


def log_path() -> Path | None:
    return _state["path"]
