"""Reading YAML config files into validated pydantic models, with one error message that names the file and
the field: the same for task, recipe, matrix, family and distillation configs.

A YAML file is untrusted input even when it is only data: a few lines of nested anchors and aliases expand
into millions of values (an "alias bomb": a 1 KB task file once became a 35 MB manifest), an alias inside its
own anchor makes a structure that contains itself, and thousands of nested brackets exhaust the parser's
recursion. Every file is therefore read with limits on its size, its nesting depth and the number of values it
holds once its aliases are expanded, and self-referencing aliases are refused."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from bench.errors import UserError

M = TypeVar("M", bound=BaseModel)

MAX_YAML_BYTES = 1 << 20  # config files are a few KB; a task's data lives in its data files
MAX_DEPTH = 50  # nesting levels, aliases expanded
MAX_VALUES = 100_000  # scalars, lists and mappings, aliases expanded


class _OverLimit(yaml.composer.ComposerError):
    """Well-formed YAML beyond what a config file may hold."""


class _LimitedLoader(yaml.SafeLoader):
    """PyYAML's safe loader that checks the composed document against the limits before building it."""

    def compose_node(self, parent, index):
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                raise _OverLimit(None, None, f"nested more than {MAX_DEPTH} levels deep", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_data(self):
        node = self.get_single_node()
        if node is None:
            return None
        _expanded(node, {}, set())
        return self.construct_document(node)


def _expanded(node: yaml.Node, seen: dict[int, tuple[int, int]], open_: set[int]) -> tuple[int, int]:
    """(values, nesting levels) that `node` stands for with every alias expanded; an _OverLimit where that is
    more than the limits allow or an alias refers to a node that contains it."""
    key = id(node)
    if key in open_:
        raise _OverLimit(None, None, "an alias refers to a value that contains it (a self-referencing anchor)",
                         node.start_mark)
    if key not in seen:
        open_.add(key)
        children = (node.value if isinstance(node, yaml.SequenceNode) else
                    [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else [])
        size, height = 1, 1
        for child in children:
            n, h = _expanded(child, seen, open_)
            size, height = size + n, max(height, h + 1)
            if size > MAX_VALUES or height > MAX_DEPTH:
                what = f"more than {MAX_VALUES:,} values" if size > MAX_VALUES else f"more than {MAX_DEPTH} levels"
                raise _OverLimit(None, None, f"holds {what} once its aliases are expanded (an alias bomb?)",
                                 node.start_mark)
        open_.discard(key)
        seen[key] = size, height
    return seen[key]


def load_yaml(path: Path, what: str):
    """The parsed content of a YAML file within the size, depth and alias limits; a UserError naming the file
    otherwise."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what} file '{path}' not found")
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise UserError(f"{what} file '{path}': {size:,} bytes, more than the {MAX_YAML_BYTES:,} a config file "
                            "may have")
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LimitedLoader)  # noqa: S506 (a safe loader)
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{what} file '{path}': cannot read as UTF-8 text: {e}") from None
    except _OverLimit as e:
        raise UserError(f"{what} file '{path}': refused: {yaml_problem(e)}") from None
    except yaml.YAMLError as e:
        raise UserError(f"{what} file '{path}': not valid YAML: {yaml_problem(e)}") from None


def read_mapping(path: Path, what: str) -> dict:
    """The top-level mapping of a YAML file; `what` says what the file is, for the error message."""
    raw = load_yaml(path, what)
    if not isinstance(raw, dict):
        raise UserError(f"{what} file '{path}': expected a mapping of fields at the top level")
    return raw


def yaml_problem(e: yaml.YAMLError) -> str:
    """PyYAML's multi-line report as one line: the problem and where it is."""
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark else problem


def validation_message(e: ValidationError) -> str:
    parts = []
    for err in e.errors():
        field = ".".join(str(x) for x in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"field '{field}': {msg}" if field else msg)
    return "; ".join(parts)


def validate(model: type[M], raw: dict, where: str) -> M:
    """`model` built from `raw`, or a UserError `where: field 'x': what was expected`."""
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise UserError(f"{where}: {validation_message(e)}") from None
