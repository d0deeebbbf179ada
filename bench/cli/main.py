"""The `qdbench` command: each `bench/cli/cmd_<name>.py` adds the subcommand <name> with its own parser."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bench import __version__
from bench.errors import UserError


class Parser(argparse.ArgumentParser):
    """A wrong option is a user error like any other: one line, exit 2 (subcommand parsers inherit this)."""

    def error(self, message: str):
        self.exit(2, f"qdbench: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand module is imported here, so each keeps its heavy imports inside its functions:
    `qdbench show` must not pay for torch or transformers."""
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
    for command in sub.choices.values():
        command.add_argument("--include-path", action="append", type=Path, metavar="DIR", default=None,
                             help="also read task YAML files (and their hook and data-format modules) from DIR; "
                                  "repeatable; also $QDBENCH_INCLUDE_PATH")
    return parser


def main(argv: list[str] | None = None) -> int:
    from bench import logs, threads

    logs.silence_progress_bars()  # before any library that reads these switches is imported
    threads.wait_passively()  # likewise: the OpenMP runtime reads it when torch loads
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        from bench.paths import home

        logs.log_to(home() / "logs" / "qdbench.log")
        include(args.include_path or [])
        return int(args.func(args) or 0)
    except UserError as e:
        logs.discard_new_log()
        print(f"qdbench: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # disk full, read-only folder, permissions: the path and the reason, not a traceback
        logs.discard_new_log()
        where = f"{e.filename}: " if e.filename else ""
        if e.filename2:  # a copy or rename: name the destination, the file that could not be written
            where = f"{e.filename2} (from {e.filename}): "
        print(f"qdbench: error: {where}{e.strerror or e}; finished work is kept: fix this and run the same "
              "command again", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("qdbench: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


def include(dirs: list[Path]) -> None:
    """The command's --include-path folders, for the task registry."""
    from bench import modules

    for d in dirs:
        if not d.is_dir():
            raise UserError(f"--include-path {d}: no such folder (expected a folder of task YAML files)")
    modules.command_line_dirs[:] = [d.resolve() for d in dirs]


if __name__ == "__main__":
    sys.exit(main())
