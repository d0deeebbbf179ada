"""The `qdbench` command: each `bench/cli/cmd_<name>.py` adds the subcommand <name> with its own parser."""

from __future__ import annotations

import argparse
import os
import sys

from bench import __version__
from bench.errors import UserError


class Parser(argparse.ArgumentParser):
    """A wrong option is a user error like any other: one line, exit 2 (subcommand parsers inherit this)."""

    def error(self, message: str):
        self.exit(2, f"qdbench: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    import importlib
    import pkgutil

    import bench.cli

    parser = Parser(prog="qdbench", description=(
        "Measure how compressing a language model changes its social bias, toxicity and fairness."))
    parser.add_argument("--version", action="version", version=f"qdbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(bench.cli.__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            importlib.import_module(f"bench.cli.{info.name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _quiet_libraries()
        return int(args.func(args) or 0)
    except UserError as e:
        print(f"qdbench: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # disk full, read-only folder, permissions: the path and the reason, not a traceback
        where = f"{e.filename}: " if e.filename else ""
        print(f"qdbench: error: {where}{e.strerror or e}; finished work is kept: fix this and run the same "
              "command again", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("qdbench: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


def _quiet_libraries() -> None:
    import logging
    import warnings

    warnings.filterwarnings("ignore", category=UserWarning)
    logging.getLogger("transformers").setLevel(logging.ERROR)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass


if __name__ == "__main__":
    sys.exit(main())
