"""Jinja templates from files qdbench does not trust — a task YAML's prompt, choices and item id, a model's or a
user's chat template — compiled in one sandbox and rendered with a work budget.

The sandbox is jinja2's `ImmutableSandboxedEnvironment`, the one transformers renders chat templates in: no
access to internals (`cycler.__init__.__globals__`, `__subclasses__`), no unsafe calls, no mutation of the
values passed in, and no loader (`{% include %}` finds nothing). A task runs code only from its hooks module.
On top of it every render has a budget: MAX_STEPS loop iterations and calls, and MAX_CHARS characters for a
value that `+`, `*`, `**` or `~` makes and for the output. Nested loops or repeated doubling then stop with an
error instead of hanging or filling memory; it is a count, not a clock, so a template renders or fails the same
way on every machine.
"""

from __future__ import annotations

import contextvars
import json
import operator
from collections.abc import Iterable, Iterator
from datetime import datetime

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_STEPS = 100_000
MAX_CHARS = 1 << 22
MAX_INT_BITS = 1 << 16
_COUNTED = "qdbench_counted"  # the filter every loop's iterable passes through (filters cannot be shadowed)


class TemplateBudgetError(SecurityError):
    """A render that went past MAX_STEPS or MAX_CHARS."""


class _Budget:
    def __init__(self) -> None:
        self.steps = 0

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise TemplateBudgetError(f"the template did more than {MAX_STEPS:,} loop iterations and calls (a "
                                      "runaway loop?)")


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("qdbench_template_budget", default=None)


def _step() -> None:
    budget = _BUDGET.get()
    if budget is None:
        raise TemplateBudgetError("a sandboxed template is rendered only through bench.templates.render")
    budget.step()


def _sized(value):
    if isinstance(value, str | bytes | list | tuple) and len(value) > MAX_CHARS:
        raise TemplateBudgetError(f"the template made a value longer than {MAX_CHARS:,}")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise TemplateBudgetError(f"the template made a number of more than {MAX_INT_BITS:,} bits")
    return value


def _counted(seq: Iterable) -> Iterator:
    for x in seq:
        _step()
        yield x


class _Codegen(CodeGenerator):
    """Every `~` is checked for length."""

    def visit_Concat(self, node: nodes.Concat, frame) -> None:
        self.write("environment.sized(")
        super().visit_Concat(node, frame)
        self.write(")")


class _Sandbox(ImmutableSandboxedEnvironment):
    code_generator_class = _Codegen
    intercepted_binops = frozenset({"+", "*", "**"})

    def __init__(self, **options) -> None:
        super().__init__(autoescape=False, loader=jinja2.DictLoader({}), **options)
        self.filters[_COUNTED] = _counted
        self.sized = _sized

    def _parse(self, source, name, filename):
        """The template's syntax tree with every for-loop iterating through the counting filter."""
        tree = super()._parse(source, name, filename)
        for loop in list(tree.find_all(nodes.For)):
            loop.iter = nodes.Filter(loop.iter, _COUNTED, [], [], None, None, lineno=loop.iter.lineno)
        return tree

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (jinja's signature)
        _step()
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context, op: str, left, right):
        if op == "**" and isinstance(right, int | float) and abs(right) > 1024:
            raise TemplateBudgetError(f"the template raised a number to the power {right}")
        if op == "*" and isinstance(left, int) and isinstance(right, str | bytes | list | tuple):
            left, right = right, left
        if op == "*" and isinstance(left, str | bytes | list | tuple) and isinstance(right, int) \
                and len(left) * right > MAX_CHARS:
            raise TemplateBudgetError(f"the template made a value longer than {MAX_CHARS:,}")
        return _sized({"+": operator.add, "*": operator.mul, "**": operator.pow}[op](left, right))


def task_environment() -> jinja2.Environment:
    """Task templates: a field the data lacks is an error, not an empty string."""
    return _Sandbox(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


class _Generation(Extension):
    """`{% generation %}...{% endgeneration %}` (transformers marks assistant turns with it): its body as is."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.Scope(body, lineno=lineno)


def _raise_exception(message):
    raise jinja2.TemplateError(message)


def _tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def chat_environment() -> jinja2.Environment:
    """Chat templates, with what transformers gives them (trim_blocks, lstrip_blocks, loop controls,
    `raise_exception`, `strftime_now`, its `tojson`, `{% generation %}`), so a prompt renders as
    `tokenizer.apply_chat_template` renders it."""
    env = _Sandbox(trim_blocks=True, lstrip_blocks=True, extensions=[_Generation, "jinja2.ext.loopcontrols"])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env


def render(template: jinja2.Template, context: dict) -> str:
    """`template` rendered with `context` within the budget. A TemplateError (a TemplateBudgetError past the
    budget, SecurityError for what the sandbox refuses) for anything that goes wrong: a Python error inside a
    template (a bad comparison, a division by zero, recursion) is the template's fault, reported as one."""
    token = _BUDGET.set(_Budget())
    try:
        out, size = [], 0
        for chunk in template.generate(**context):
            size += len(chunk)
            if size > MAX_CHARS:
                raise TemplateBudgetError(f"the template's output is longer than {MAX_CHARS:,} characters")
            out.append(chunk)
        return "".join(out)
    except jinja2.TemplateError:
        raise
    except RecursionError:
        raise TemplateBudgetError("the template recursed too deeply") from None
    except Exception as e:  # noqa: BLE001 (see the docstring)
        raise jinja2.TemplateRuntimeError(f"{type(e).__name__}: {e}") from None
    finally:
        _BUDGET.reset(token)


def problem(e: jinja2.TemplateError) -> str:
    """A template error as one line: what went wrong, and the line for a syntax error."""
    if isinstance(e, jinja2.TemplateSyntaxError):
        return f"template syntax error: {e.message} (line {e.lineno})"
    if isinstance(e, jinja2.TemplateNotFound):
        return f"the template includes or imports {e.name!r}; templates cannot read other files"
    if isinstance(e, TemplateBudgetError):
        return str(e)
    if isinstance(e, SecurityError):
        return f"refused by the template sandbox: {e}"
    return (e.message or type(e).__name__).splitlines()[0] if hasattr(e, "message") else str(e)
